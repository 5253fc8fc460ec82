"""The review app over HTTP: login, roles, CSRF, the queue, item pages, decisions, reveals, audit."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from html.parser import HTMLParser

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from fixtures.review.make_results import ATTACHMENT_LINE, BODY_LINE, FORWARDED_LINE, HTML_LINE, QUOTED_LINE
from fixtures.review.support import (  # noqa: F401
    ORIGINS,
    PASSWORD,
    RESULTS,
    Env,
    csrf_of,
    db_url,
    env,
    item_id,
    login,
    seed,
    settings_for,
    sqlite_url,
)
from sqlalchemy import select

from serve.review.db import session_scope
from serve.review.main import create_app
from serve.review.models import AuditEvent


def _audit(env: Env, action: str) -> list[AuditEvent]:  # noqa: F811
    with session_scope(env.db_url) as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def _decide(c: TestClient, token: str, iid: int, **body: object) -> object:
    return c.post(f"/api/items/{iid}/decision", json=body, headers={"X-CSRF-Token": token})


def test_without_login_api_is_401_and_pages_redirect(env: Env) -> None:  # noqa: F811
    c = env.client()
    iid = item_id(env.db_url, "m1")
    for path in ("/api/queue", f"/api/items/{iid}"):
        assert c.get(path).status_code == 401
    for path in ("/", "/queue", f"/items/{iid}", "/admin/users", "/admin/audit.csv"):
        r = c.get(path)
        assert (r.status_code, r.headers["location"]) == (303, "/login")
    assert c.get("/login").status_code == 200 and c.get("/static/app.js").status_code == 200
    token = csrf_of(c)
    assert _decide(c, token, iid, decision="not_violation", version=1).status_code == 401


def test_session_cookie_is_httponly_and_samesite(env: Env) -> None:  # noqa: F811
    c = env.client()
    r = c.post("/login", data={"username": "alice", "password": PASSWORD, "csrf_token": csrf_of(c)})
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
    secure = TestClient(create_app(settings_for(env.db_url, cookie_secure=True)), follow_redirects=False)
    r = secure.post("/login", data={"username": "alice", "password": PASSWORD, "csrf_token": csrf_of(secure)})
    assert "secure" in r.headers["set-cookie"].lower()


def test_wrong_role_is_403(env: Env) -> None:  # noqa: F811
    iid = item_id(env.db_url, "m1")
    admin = env.client()
    admin_token = login(admin, "adam")  # plain admin: manages users, cannot read mail
    assert admin.get("/api/queue").status_code == 403
    assert admin.get(f"/items/{iid}").status_code == 403
    assert admin.get("/").headers["location"] == "/admin/users"
    assert admin.post(f"/api/items/{iid}/reveal", headers={"X-CSRF-Token": admin_token}).status_code == 403
    reviewer = env.client()
    token = login(reviewer, "alice")
    assert reviewer.get("/admin/users").status_code == 403
    assert reviewer.get("/admin/audit.csv").status_code == 403
    assert reviewer.post(f"/api/items/{iid}/reveal", headers={"X-CSRF-Token": token}).status_code == 403
    both = env.client()
    login(both, "ada")  # admin who is also a reviewer may do both
    assert both.get("/api/queue").status_code == 200 and both.get("/admin/users").status_code == 200


def test_posts_without_a_valid_csrf_token_are_rejected(env: Env) -> None:  # noqa: F811
    c = env.client()
    r = c.post("/login", data={"username": "alice", "password": PASSWORD})
    assert r.status_code == 403  # even the login form carries a token
    token = login(c, "alice")
    iid = item_id(env.db_url, "m1")
    assert _decide(c, "forged", iid, decision="not_violation", version=1).status_code == 403
    assert c.post(f"/api/items/{iid}/decision", json={"decision": "not_violation", "version": 1}).status_code == 403
    form = {"decision": "not_violation", "version": "1", "csrf_token": "forged"}
    assert c.post(f"/items/{iid}/decision", data=form).status_code == 403
    assert c.get(f"/api/items/{iid}").json()["status"] == "pending"  # nothing was recorded
    assert _decide(c, token, iid, decision="not_violation", version=1).status_code == 200


def test_unknown_items_are_404(env: Env) -> None:  # noqa: F811
    c = env.client()
    token = login(c, "ivan")
    assert c.get("/api/items/999999").status_code == 404
    assert c.get("/items/999999").status_code == 404
    assert _decide(c, token, 999999, decision="not_violation", version=1).status_code == 404
    assert c.post("/api/items/999999/reveal", headers={"X-CSRF-Token": token}).status_code == 404


def test_queue_sorts_filters_counts_and_pages(env: Env) -> None:  # noqa: F811
    c = env.client()
    login(c, "alice")
    q = c.get("/api/queue").json()
    assert q["total"] == 5
    assert [it["max_score"] for it in q["items"]] == sorted((it["max_score"] for it in q["items"]), reverse=True)
    assert q["label_counts"]["race"] == 1 and q["label_counts"]["gender"] == 1 and q["label_counts"]["religion"] == 0
    assert q["direction_counts"] == {"staff": 4, "inbound": 1, "internal": 3, "outbound": 1, "unknown": 0}
    assert all(it["sender"].startswith("User-") and "@" not in it["sender"] for it in q["items"])
    dated = c.get("/api/queue", params={"sort": "date", "order": "asc"}).json()["items"]
    assert [it["subject"] for it in dated][:2] == ["Training", "Budget"]
    assert [it["subject"] for it in c.get("/api/queue", params={"label": "sexual"}).json()["items"]] == ["Friday"]
    assert c.get("/api/queue", params={"direction": "inbound"}).json()["total"] == 1
    assert c.get("/api/queue", params={"direction": "staff"}).json()["total"] == 4
    assert c.get("/api/queue", params={"model_version": "4"}).json()["total"] == 2
    march = c.get("/api/queue", params={"date_from": "2025-03-01", "date_to": "2025-03-10"}).json()
    assert sorted(it["subject"] for it in march["items"]) == ["Friday", "Great offer"]
    page2 = c.get("/api/queue", params={"page": 2, "page_size": 2}).json()
    assert (page2["total"], len(page2["items"]), page2["page"]) == (5, 2, 2)
    assert c.get("/api/queue", params={"label": "nope"}).status_code == 422
    assert c.get("/api/queue", params={"date_from": "yesterday"}).status_code == 422
    page = c.get("/queue", params={"direction": "staff"})
    assert page.status_code == 200 and "Staff-sent (4)" in page.text and "Inbound (1)" in page.text


def test_item_page_marks_evidence_escapes_html_and_pseudonymises(env: Env) -> None:  # noqa: F811
    c = env.client()
    login(c, "alice")
    html = c.get(f"/items/{item_id(env.db_url, 'm1')}").text
    assert '<span class="evlabel">race</span>people of that colour</mark>' in html
    assert '<span class="evlabel">national_origin</span>go back where they came from</mark>' in html
    assert "<script>alert" not in html and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "<details" in html and "Welcome the new hires" in html
    assert "m1.sender@city.example" not in html and "User-" in html
    assert "Reveal identities" not in html  # a plain reviewer has no reveal button
    for key in ("<kbd>c</kbd>", "<kbd>n</kbd>", "<kbd>e</kbd>", "<kbd>j</kbd>"):
        assert key in html


def test_investigator_reveal_is_audited(env: Env) -> None:  # noqa: F811
    c = env.client()
    token = login(c, "ivan")
    iid = item_id(env.db_url, "m1")
    api = c.get(f"/api/items/{iid}").json()
    assert api["sender"].startswith("User-") and "sender" not in json.dumps(api["to"])
    r = c.post(f"/api/items/{iid}/reveal", headers={"X-CSRF-Token": token})
    assert r.json() == {"item_id": iid, "sender": "m1.sender@city.example", "to": ["team@city.example"], "cc": []}
    page = c.post(f"/items/{iid}/reveal", data={"csrf_token": token})
    assert "m1.sender@city.example" in page.text
    reveals = _audit(env, "reveal")
    assert [(e.actor, e.item_id) for e in reveals] == [("ivan", iid), ("ivan", iid)]


def test_decision_flow_records_who_and_when_and_leaves_the_queue(env: Env) -> None:  # noqa: F811
    c = env.client()
    token = login(c, "alice")
    iid = item_id(env.db_url, "m1")
    r = _decide(c, token, iid, decision="confirmed", version=1, labels=["race"], note="clear slur")
    body = r.json()
    assert r.status_code == 200
    assert (body["status"], body["confirmed_labels"], body["decided_by"], body["version"]) == (
        "confirmed", ["race"], "alice", 2,
    )  # fmt: skip
    assert body["decided_at"] and body["history"][0]["note"] == "clear slur"
    assert iid not in [it["id"] for it in c.get("/api/queue").json()["items"]]
    assert iid in [it["id"] for it in c.get("/api/queue", params={"status": "confirmed"}).json()["items"]]
    assert _decide(c, token, iid + 0, decision="confirmed", version=2, labels=[]).status_code == 422
    # escalation needs another reviewer and a note
    m2 = item_id(env.db_url, "m2")
    assert _decide(c, token, m2, decision="escalated", version=1, escalate_to="bob").status_code == 422
    assert _decide(c, token, m2, decision="escalated", version=1, escalate_to="alice", note="x").status_code == 422
    esc = _decide(c, token, m2, decision="escalated", version=1, escalate_to="bob", note="second opinion").json()
    assert (esc["status"], esc["assigned_to"]) == ("escalated", "bob")
    # the HTML form path: a decision redirects onwards and flashes what happened
    m4 = item_id(env.db_url, "m4")
    r = c.post(f"/items/{m4}/decision", data={"decision": "not_violation", "version": "1", "csrf_token": token})
    assert r.status_code == 303
    assert c.get(f"/api/items/{m4}").json()["status"] == "not_violation"
    decisions = _audit(env, "decision")
    assert [(e.actor, e.item_id, json.loads(e.detail)["decision"]) for e in decisions] == [
        ("alice", iid, "confirmed"), ("alice", m2, "escalated"), ("alice", m4, "not_violation"),
    ]  # fmt: skip


def test_concurrent_decision_is_409_not_an_overwrite(env: Env) -> None:  # noqa: F811
    alice, bob = env.client(), env.client()
    ta, tb = login(alice, "alice"), login(bob, "bob")
    iid = item_id(env.db_url, "m3")
    seen_a = alice.get(f"/api/items/{iid}").json()["version"]
    seen_b = bob.get(f"/api/items/{iid}").json()["version"]
    assert _decide(alice, ta, iid, decision="confirmed", version=seen_a, labels=["solicitation"]).status_code == 200
    late = _decide(bob, tb, iid, decision="not_violation", version=seen_b)
    assert late.status_code == 409 and "changed since you opened it" in late.json()["detail"]
    assert bob.get(f"/api/items/{iid}").json()["status"] == "confirmed"
    page = bob.post(f"/items/{iid}/decision", data={"decision": "not_violation", "version": str(seen_b), "csrf_token": tb})
    assert page.status_code == 409 and "changed since you opened it" in page.text


def test_views_and_logins_are_audited_without_message_text(env: Env) -> None:  # noqa: F811
    c = env.client()
    bad = c.post("/login", data={"username": "alice", "password": "wrong password", "csrf_token": csrf_of(c)})
    assert bad.status_code == 401
    login(c, "alice")
    c.get("/queue")
    c.get(f"/items/{item_id(env.db_url, 'm1')}")
    admin = env.client()
    login(admin, "adam")
    r = admin.get("/admin/audit.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    actions = [(row["actor"], row["action"]) for row in rows]
    for expected in [("alice", "login_failed"), ("alice", "login"), ("alice", "view_queue"), ("alice", "view_item"),
                     ("adam", "login")]:  # fmt: skip
        assert expected in actions
    assert "people of that colour" not in r.text and "new hires" not in r.text
    assert [e.actor for e in _audit(env, "audit_export")] == ["adam"]


def test_login_is_rate_limited_per_user_and_ip(env: Env) -> None:  # noqa: F811
    c = env.client()
    token = csrf_of(c)
    for _ in range(5):
        assert c.post("/login", data={"username": "bob", "password": "nope", "csrf_token": token}).status_code == 401
    blocked = c.post("/login", data={"username": "bob", "password": PASSWORD, "csrf_token": token})
    assert blocked.status_code == 429 and "Too many failed logins" in blocked.text
    login(env.client(), "alice")  # other users are not locked out


def test_admin_manages_users(env: Env) -> None:  # noqa: F811
    c = env.client()
    token = login(c, "adam")
    form = {"username": "carol", "password": "long enough password", "roles": ["reviewer", "investigator"]}
    assert c.post("/admin/users", data={**form, "csrf_token": token}).status_code == 303
    assert c.post("/admin/users", data={**form, "csrf_token": token}).status_code == 422  # duplicate
    carol = env.client()
    login(carol, "carol", "long enough password")
    assert carol.get("/api/queue").status_code == 200
    added = [json.loads(e.detail) for e in _audit(env, "user_added")]
    assert [(d["username"], d["roles"]) for d in added] == [("carol", "reviewer")]  # investigator awaits approval
    assert [json.loads(e.detail)["role"] for e in _audit(env, "grant_requested")] == ["investigator"]
    assert "data-grant-id=" in c.get("/admin/users").text  # listed for a second admin to approve


@pytest.mark.parametrize("name", ["reviewer", "investigator"])
def test_roles_that_read_mail_can_see_the_queue(sqlite_url: str, name: str) -> None:  # noqa: F811
    seed(sqlite_url)
    env_ = Env(sqlite_url, settings_for(sqlite_url))
    c = env_.client()
    login(c, {"reviewer": "alice", "investigator": "ivan"}[name])
    assert c.get("/queue").status_code == 200


@dataclass
class _Mark:
    start: int
    end: int
    attrs: dict[str, str | None]
    anchors: list[str] = field(default_factory=list)
    badges: list[str] = field(default_factory=list)


class _MarkedText(HTMLParser):
    """The text of the element with id ``element_id`` as a reader sees it, and where each <mark> lies in it."""

    def __init__(self, element_id: str) -> None:
        super().__init__(convert_charrefs=True)
        self.element_id, self.depth, self.in_badge = element_id, 0, False
        self.text, self.marks, self.found = "", [], False
        self._open: _Mark | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if not self.depth:
            if a.get("id") == self.element_id:
                self.depth, self.found = 1, True
            return
        self.depth += 1
        if tag == "mark":
            self._open = _Mark(len(self.text), -1, a)
        elif a.get("class") == "evanchor" and self._open:
            self._open.anchors.append(str(a["id"]))
        elif a.get("class") == "evlabel":
            self.in_badge = True

    def handle_endtag(self, tag: str) -> None:
        if not self.depth:
            return
        self.depth -= 1
        if tag == "mark" and self._open:
            self._open.end = len(self.text)
            self.marks.append(self._open)
            self._open = None
        self.in_badge = False if tag == "span" else self.in_badge

    def handle_data(self, data: str) -> None:
        if self.depth and self.in_badge and self._open:
            self._open.badges.append(data)
        elif self.depth:
            self.text += data


def _marked(html: str, element_id: str) -> _MarkedText:
    parsed = _MarkedText(element_id)
    parsed.feed(html)
    assert parsed.found, f"no element #{element_id} on the page"
    return parsed


@pytest.fixture
def origins(db_url: str) -> Env:  # noqa: F811
    """Return the app seeded with the fixture results and the rows whose evidence lies outside the body."""
    seed(db_url, pd.concat([pd.read_parquet(RESULTS), pd.read_parquet(ORIGINS)], ignore_index=True))
    return Env(db_url, settings_for(db_url))


def test_evidence_is_marked_at_its_offsets_in_every_field_with_its_origin(origins: Env) -> None:
    c = origins.client()
    login(c, "alice")
    iid = item_id(origins.db_url, "m10")
    html = c.get(f"/items/{iid}").text
    stored = c.get(f"/api/items/{iid}").json()
    evidence = stored["evidence"]
    expected = {  # element id -> (results field, label, item index, origin as the title says it)
        "html-text": ("html_text", "sexual", 0, "HTML version only"),
        "body": ("body", "sexual", 1, "message text"),
        "quoted-text": ("quoted", "race", 0, "quoted/forwarded text"),
        "attachment-text": ("attachment_text", "solicitation", 0, "attachment notes.docx"),
    }
    for element_id, (fld, label, k, where) in expected.items():
        page = _marked(html, element_id)
        item = evidence[label][k]
        assert page.text == stored[fld]  # the whole field is shown, escaped back to the stored text
        [mark] = page.marks
        assert (mark.start, mark.end) == (item["start"], item["end"])
        assert page.text[mark.start : mark.end] == item["text"]
        assert mark.badges == [label] and mark.anchors == [f"ev-{label}-{k}"]
        assert mark.attrs["data-origins"] == item["origin"]
        assert mark.attrs["title"] == f"{label} ({where}, score {item['score']:.2f})"
    assert [i["text"] for i in (evidence["sexual"][0], evidence["race"][0], evidence["solicitation"][0])] == [
        HTML_LINE, QUOTED_LINE, ATTACHMENT_LINE,
    ]  # fmt: skip
    assert _marked(html, "subject").marks == []
    # every section holding evidence is open and says so
    for section in ("html-only", "quoted", "attachments-read"):
        assert f'id="{section}" open>' in html
    assert "Only in the HTML version" in html and "quoted/forwarded text" in html
    assert "read from rota.txt, notes.docx, one after another" in html  # the files read, not the unreadable ones


def test_item_page_says_what_was_not_scored(origins: Env) -> None:
    c = origins.client()
    login(c, "alice")
    html = c.get(f"/items/{item_id(origins.db_url, 'm10')}").text
    assert 'id="truncated">Only the first part of this message was scored' in html
    assert 'id="unscored-attachments">Attachments not read: photo.png (not text); locked.pdf (encrypted)<' in html
    assert 'id="queue-reason"' not in html  # m10 has evidence of its own, so no queue reason
    plain = c.get(f"/items/{item_id(origins.db_url, 'm1')}").text
    assert 'class="notice' not in plain and 'id="quoted" >' in plain  # nothing to say; quoted starts closed


def test_side_panel_lists_each_labels_evidence_best_first_with_origin_and_score(origins: Env) -> None:
    c = origins.client()
    login(c, "alice")
    html = c.get(f"/items/{item_id(origins.db_url, 'm10')}").text
    panel = html[html.index('id="evidence-panel"') : html.index("<h2>Scores</h2>")]
    assert [panel.index(f">{lb}<") for lb in ("sexual", "race", "solicitation")] == sorted(
        panel.index(f">{lb}<") for lb in ("sexual", "race", "solicitation")
    )  # labels by score: 0.91, 0.88, 0.79
    sexual = panel[panel.index(">sexual<") : panel.index(">race<")]
    assert sexual.index(HTML_LINE) < sexual.index(BODY_LINE)  # 0.91 before 0.62
    assert f'<a href="#ev-sexual-0">“{HTML_LINE}”</a>' in sexual and "HTML version only · score 0.91" in sexual
    assert f'<a href="#ev-sexual-1">“{BODY_LINE}”</a>' in sexual and "message text · score 0.62" in sexual
    assert "quoted/forwarded text · score 0.88" in panel and "attachment notes.docx · score 0.79" in panel


def test_quoted_only_flags_are_announced_and_marked_as_quoted(origins: Env) -> None:
    c = origins.client()
    login(c, "alice")
    iid = item_id(origins.db_url, "m11")
    html = c.get(f"/items/{iid}").text
    assert '<p class="notice reason" id="queue-reason" role="note">Flagged only in quoted/forwarded text' in html
    quoted = _marked(html, "quoted-text")
    [mark] = quoted.marks
    assert quoted.text[mark.start : mark.end] == FORWARDED_LINE and mark.attrs["data-origins"] == "quoted"
    assert 'id="quoted" open>' in html and _marked(html, "body").marks == []
    row = next(it for it in c.get("/api/queue").json()["items"] if it["id"] == iid)
    assert row["queue_reason"] == "in quoted/forwarded text"
    assert '<span class="tag reason" title="why it was queued">in quoted/forwarded text</span>' in c.get("/queue").text


def test_item_json_carries_everything_the_scorer_read(origins: Env) -> None:
    c = origins.client()
    login(c, "alice")
    api = c.get(f"/api/items/{item_id(origins.db_url, 'm10')}").json()
    assert api["html_text"].startswith("Agenda: rota") and api["attachment_text"].startswith("Rota for March")
    assert (api["unscored_attachments"], api["truncated"], api["queue_reason"]) == (
        "photo.png (not text); locked.pdf (encrypted)", True, "",
    )  # fmt: skip
    assert api["evidence"]["solicitation"][0]["attachment"] == "notes.docx"
    m11 = c.get(f"/api/items/{item_id(origins.db_url, 'm11')}").json()
    assert (m11["queue_reason"], m11["truncated"], m11["html_text"]) == ("in quoted/forwarded text", False, "")


def test_hostile_text_in_every_section_stays_text(origins: Env) -> None:
    c = origins.client()
    login(c, "alice")
    html = c.get(f"/items/{item_id(origins.db_url, 'm10')}").text
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<script>steal" not in html and "&lt;script&gt;steal()&lt;/script&gt;" in html
    m1 = c.get(f"/items/{item_id(origins.db_url, 'm1')}").text
    assert "<script>alert" not in m1 and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in m1


def test_evidence_not_found_in_the_text_is_listed_as_text(sqlite_url: str) -> None:  # noqa: F811
    results = pd.read_parquet(RESULTS)
    m4 = results.message_id == "<m4@city.example>"
    results.loc[m4, "evidence"] = json.dumps(
        {"gender": [{"text": "a line the body no longer has", "origin": "body", "field": "body", "start": 0,
                     "end": 29, "score": 0.66}]}
    )  # fmt: skip
    seed(sqlite_url, results)
    c = Env(sqlite_url, settings_for(sqlite_url)).client()
    login(c, "alice")
    html = c.get(f"/items/{item_id(sqlite_url, 'm4')}").text
    assert "Evidence not found in the text shown:" in html
    assert '<span class="tag">gender</span> “a line the body no longer has” (message text)' in html
    assert "{&#39;text&#39;" not in html and "[{" not in html  # the items themselves are never dumped
    assert "“a line the body no longer has” <em>(not found in the text shown)</em>" in html
