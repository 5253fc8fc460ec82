"""The review app over HTTP: login, roles, CSRF, the queue, item pages, decisions, reveals, audit."""

from __future__ import annotations

import csv
import io
import json

import pytest
from fastapi.testclient import TestClient
from fixtures.review.support import (  # noqa: F401
    PASSWORD,
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
