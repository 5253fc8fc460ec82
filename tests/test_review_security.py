"""Security of the review app, item by item as issue 14 (10-17) lists it: each test failed before the fix.

Sessions and login throttling run against uvicorn on loopback, configured as ``mailguard review serve``
configures it; the rest against the app through TestClient.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from fixtures.review.support import (  # noqa: F401
    PASSWORD,
    SECRET,
    Env,
    csrf_of,
    db_url,
    env,
    item_id,
    live_app,
    login,
    settings_for,
    sqlite_url,
)
from sqlalchemy import func, select, update
from typer.testing import CliRunner

from mailguard.cli import app as cli
from mailguard.errors import ConfigError
from serve.review.audit import export_audit_csv
from serve.review.db import session_scope
from serve.review.export import export_reviewed
from serve.review.main import create_app
from serve.review.models import AuditEvent, Item, LoginAttempt, LoginSession, User, utcnow
from serve.review.security import hash_password, pseudonym
from serve.review.settings import ReviewSettings, load_settings

runner = CliRunner()


def _audit(db_url: str, action: str) -> list[AuditEvent]:  # noqa: F811
    with session_scope(db_url) as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def _form(token: str, **fields: Any) -> dict[str, Any]:
    return {"csrf_token": token, **fields}


def _user_id(db_url: str, name: str) -> int:  # noqa: F811
    with session_scope(db_url) as s:
        uid = s.scalar(select(User.id).where(User.username == name))
    assert uid is not None
    return uid


def _roles(db_url: str, name: str) -> str:  # noqa: F811
    with session_scope(db_url) as s:
        return s.scalar(select(User.roles).where(User.username == name)) or ""


def _status(db_url: str, iid: int) -> tuple[str, int]:  # noqa: F811
    with session_scope(db_url) as s:
        item = s.get(Item, iid)
        assert item is not None
        return item.status, item.version


# --- 10. Sessions live on the server and end on logout, password change, deactivation, timeouts ----


def test_copied_cookie_stops_working_after_logout_on_uvicorn(sqlite_url: str) -> None:  # noqa: F811
    from fixtures.review.support import seed

    seed(sqlite_url)
    with live_app(settings_for(sqlite_url)) as base, httpx.Client(base_url=base) as alice:
        login(alice, "alice")  # type: ignore[arg-type]
        assert alice.get("/api/queue").status_code == 200
        stolen = httpx.Client(base_url=base, cookies={"mailguard_session": alice.cookies["mailguard_session"]})
        assert stolen.get("/api/queue").status_code == 200
        token = csrf_of(alice)  # type: ignore[arg-type]
        assert alice.post("/logout", data=_form(token)).status_code == 303
        assert stolen.get("/api/queue").status_code == 401  # the copy died with the session
        stolen.close()
    with session_scope(sqlite_url) as s:
        row = s.scalar(select(LoginSession))
        assert row is not None and row.revoked_reason == "logout" and row.ip == "127.0.0.1"
        assert len(row.id) == 64  # the token's SHA-256: the database never holds a usable cookie


def test_password_change_deactivation_and_admin_revoke_end_sessions(env: Env) -> None:  # noqa: F811
    other_device, this_device = env.client(), env.client()
    login(other_device, "alice")
    token = login(this_device, "alice")
    new = "a brand new passphrase"
    r = this_device.post("/account/password", data=_form(token, current=PASSWORD, new=new))
    assert r.status_code == 303
    assert other_device.get("/api/queue").status_code == 401  # ended with the old password
    assert this_device.get("/api/queue").status_code == 200  # the browser that changed it got a fresh one
    assert this_device.post("/account/password", data=_form(csrf_of(this_device), current="wrong", new=new * 2)).status_code == 403

    bob = env.client()
    login(bob, "bob")
    admin = env.client()
    admin_token = login(admin, "adam")
    bob_id = _user_id(env.db_url, "bob")
    assert admin.post(f"/admin/users/{bob_id}/active", data=_form(admin_token, active="false")).status_code == 303
    assert admin.post(f"/admin/users/{bob_id}/active", data=_form(admin_token, active="true")).status_code == 303
    assert bob.get("/api/queue").status_code == 401  # reactivating does not revive old sessions
    login(bob, "bob")
    assert admin.post(f"/admin/users/{bob_id}/sessions/revoke", data=_form(admin_token)).status_code == 303
    assert bob.get("/api/queue").status_code == 401
    [revoked] = _audit(env.db_url, "sessions_revoked")
    assert (revoked.actor, json.loads(revoked.detail)) == ("adam", {"username": "bob", "sessions_ended": 1})
    assert json.loads(_audit(env.db_url, "user_active")[0].detail)["sessions_ended"] == 1
    assert json.loads(_audit(env.db_url, "password_changed")[0].detail)["sessions_ended"] == 2


def test_cli_revokes_sessions_and_sets_passwords(env: Env) -> None:  # noqa: F811
    c = env.client()
    login(c, "bob")
    r = runner.invoke(cli, ["review", "revoke-sessions", "bob", "--db", env.db_url])
    assert r.exit_code == 0 and "1 session(s) of bob ended" in r.output, r.output
    assert c.get("/api/queue").status_code == 401
    login(c, "bob")
    r = runner.invoke(cli, ["review", "set-password", "bob", "--password-stdin", "--db", env.db_url], input="another long one\n")
    assert r.exit_code == 0 and "1 session(s) ended" in r.output, r.output
    assert c.get("/api/queue").status_code == 401
    login(c, "bob", "another long one")
    assert [e.actor for e in _audit(env.db_url, "sessions_revoked")] == ["cli"]


def test_idle_and_absolute_timeouts_end_sessions(env: Env) -> None:  # noqa: F811
    c = env.client()
    login(c, "alice")
    with session_scope(env.db_url) as s:  # idle for longer than the idle timeout
        s.execute(update(LoginSession).values(last_seen_at=utcnow() - timedelta(seconds=env.settings.session_idle_timeout_s + 5)))
    assert c.get("/api/queue").status_code == 401
    login(c, "alice")
    with session_scope(env.db_url) as s:  # active all along, but logged in longer ago than the absolute limit
        s.execute(
            update(LoginSession)
            .where(LoginSession.revoked_at.is_(None))
            .values(created_at=utcnow() - timedelta(seconds=env.settings.session_max_age_s + 5))
        )
    assert c.get("/api/queue").status_code == 401
    with session_scope(env.db_url) as s:
        reasons = [row.revoked_reason for row in s.scalars(select(LoginSession).order_by(LoginSession.revoked_at))]
    assert reasons == ["idle", "expired"]


# --- 11. The secret key is strong or generated ------------------------------------------------------


@pytest.mark.parametrize("weak", [" " * 16, " " * 40, "0123456789abcdef", "a" * 64, "abcdefgh" * 4])
def test_weak_secret_keys_are_refused(weak: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="too weak"):
        ReviewSettings(db=f"sqlite:///{tmp_path}/r.db", secret_key=weak)  # type: ignore[arg-type]
    monkeypatch.setenv("MAILGUARD_SECRET_KEY", weak)
    with pytest.raises(ConfigError, match="MAILGUARD_SECRET_KEY"):
        load_settings(f"sqlite:///{tmp_path}/r.db")
    ReviewSettings(db="sqlite:///r.db", secret_key=secrets.token_hex(32))  # type: ignore[arg-type]
    ReviewSettings(db="sqlite:///r.db", secret_key=secrets.token_urlsafe(32))  # type: ignore[arg-type]


def test_missing_key_is_generated_once_0600_next_to_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("MAILGUARD_SECRET_KEY", raising=False)
    monkeypatch.delenv("MAILGUARD_REVIEW_SECRET_KEY_FILE", raising=False)
    old = os.umask(0o022)
    try:
        with caplog.at_level(logging.INFO):
            first = load_settings(f"sqlite:///{tmp_path}/review.db")
    finally:
        os.umask(old)
    key_file = tmp_path / "review.db.secret-key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert str(key_file) in caplog.text  # the log says where the key is
    assert first.secret_key.get_secret_value() == key_file.read_text().strip()
    assert load_settings(f"sqlite:///{tmp_path}/review.db").secret_key == first.secret_key  # reused, not replaced
    key_file.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        load_settings(f"sqlite:///{tmp_path}/review.db")


def test_readme_first_run_needs_no_exported_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fixtures.review.support import RESULTS

    monkeypatch.delenv("MAILGUARD_SECRET_KEY", raising=False)
    monkeypatch.delenv("MAILGUARD_REVIEW_SECRET_KEY_FILE", raising=False)
    db = f"sqlite:///{tmp_path}/review.db"
    steps = [
        (["review", "add-user", "alice", "--role", "reviewer", "--password-stdin", "--db", db], "a long password 1\n"),
        (["review", "load", str(RESULTS), "--db", db], None),
        (["review", "export", str(tmp_path / "reviewed.parquet"), "--db", db], None),
    ]
    for args, stdin in steps:
        r = runner.invoke(cli, args, input=stdin)
        assert r.exit_code == 0, r.output
    settings = load_settings(db)  # what `review serve` starts with: the key the export generated
    assert settings.secret_key.get_secret_value() == (tmp_path / "review.db.secret-key").read_text().strip()
    TestClient(create_app(settings)).get("/login").raise_for_status()


# --- 12. Login throttling: atomic, forwarded addresses only from trusted proxies, no global lockout ---


def test_parallel_guesses_get_at_most_the_limit_through_on_uvicorn(sqlite_url: str) -> None:  # noqa: F811
    from fixtures.review.support import seed

    seed(sqlite_url)
    n = 20
    settings = settings_for(sqlite_url)
    with live_app(settings) as base:
        clients = [httpx.Client(base_url=base, timeout=30) for _ in range(n)]
        tokens = [csrf_of(c) for c in clients]  # type: ignore[arg-type]
        start = threading.Barrier(n)
        codes: list[int] = []

        def guess(c: httpx.Client, token: str) -> None:
            start.wait()
            codes.append(c.post("/login", data=_form(token, username="bob", password="guess")).status_code)

        threads = [threading.Thread(target=guess, args=(c, t)) for c, t in zip(clients, tokens, strict=True)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        right = clients[0].post("/login", data=_form(tokens[0], username="bob", password=PASSWORD))
        for c in clients:
            c.close()
    assert sorted(codes) == [401] * settings.login_max_failures + [429] * (n - settings.login_max_failures)
    assert right.status_code == 429  # the pair stays locked even for the right password
    assert len(_audit(sqlite_url, "login_failed")) == settings.login_max_failures
    assert len(_audit(sqlite_url, "login_blocked")) == 1  # refusals are counted, not logged one by one
    with session_scope(sqlite_url) as s:
        pair = s.get(LoginAttempt, ("pair", "bob", "127.0.0.1"))
        assert pair is not None and (pair.failures, pair.refused) == (5, n - 5 + 1)


def test_forwarded_for_is_believed_only_from_trusted_proxies(sqlite_url: str) -> None:  # noqa: F811
    from fixtures.review.support import seed

    seed(sqlite_url)
    spoof = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
    with live_app(settings_for(sqlite_url)) as base, httpx.Client(base_url=base) as c:
        r = c.post("/login", data=_form(csrf_of(c), username="alice", password=PASSWORD), headers=spoof)  # type: ignore[arg-type]
        assert r.status_code == 303 and "secure" not in r.headers["set-cookie"].lower()
    with live_app(settings_for(sqlite_url, trusted_proxies="127.0.0.1")) as base, httpx.Client(base_url=base) as c:
        r = c.post("/login", data=_form(csrf_of(c), username="bob", password=PASSWORD), headers=spoof)  # type: ignore[arg-type]
        assert r.status_code == 303 and "secure" in r.headers["set-cookie"].lower()  # the proxy said https
    assert [(e.actor, e.ip) for e in _audit(sqlite_url, "login")] == [("alice", "127.0.0.1"), ("bob", "203.0.113.9")]


def test_guessing_from_many_addresses_cannot_lock_a_user_out_of_a_known_address(sqlite_url: str) -> None:  # noqa: F811
    from fixtures.review.support import seed

    seed(sqlite_url)
    settings = settings_for(
        sqlite_url, trusted_proxies="127.0.0.1", login_max_failures=2, login_user_max_failures=4, login_ip_max_failures=6
    )

    def attempt(c: httpx.Client, user: str, password: str, ip: str) -> int:
        r = c.post("/login", data=_form(csrf_of(c), username=user, password=password), headers={"X-Forwarded-For": ip})  # type: ignore[arg-type]
        return r.status_code

    with live_app(settings) as base, httpx.Client(base_url=base) as c:
        assert attempt(c, "alice", PASSWORD, "10.0.0.1") == 303  # alice works from 10.0.0.1
        c.cookies.clear()
        attacker = [attempt(c, "alice", "guess", f"10.6.6.{i}") for i in range(1, 9)]
        assert attacker[:4] == [401] * 4 and set(attacker[4:]) == {429}  # per-user limit, across addresses
        assert attempt(c, "alice", PASSWORD, "10.9.9.9") == 429  # a new address is held to it too
        assert attempt(c, "alice", PASSWORD, "10.0.0.1") == 303  # but alice's own address still gets in
        c.cookies.clear()
        sprayed = [attempt(c, f"nobody{i}", "guess", "10.7.7.7") for i in range(8)]
        assert sprayed[:6] == [401] * 6 and set(sprayed[6:]) == {429}  # one address spraying user names
        assert attempt(c, "bob", PASSWORD, "10.8.8.8") == 303  # everyone else is unaffected


# --- 13. Audit records are committed before the response starts --------------------------------------


@contextmanager
def _probe(env: Env, actions: tuple[str, ...]) -> Iterator[tuple[TestClient, list[tuple[str, int]]]]:  # noqa: F811
    """Yield a client whose every response start records (path, audit rows of ``actions`` committed by then)."""
    app = create_app(env.settings)
    seen: list[tuple[str, int]] = []

    async def probed(scope: Any, receive: Any, send: Any) -> None:
        async def on_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start" and (scope["method"] != "GET" or scope["path"].endswith(".csv")):
                with session_scope(env.db_url) as s:
                    n = s.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action.in_(actions)))
                seen.append((scope["path"], int(n or 0)))
            await send(message)

        await app(scope, receive, on_send)

    with TestClient(probed, follow_redirects=False) as client:
        yield client, seen


def test_audit_is_committed_before_the_response_starts(env: Env) -> None:  # noqa: F811
    actions = ("user_added", "user_active", "audit_export", "sessions_revoked", "logout")
    with _probe(env, actions) as (c, seen):
        token = login(c, "adam")
        seen.clear()
        c.post("/admin/users", data=_form(token, username="carol", password="long enough password", roles=["reviewer"]))
        carol = _user_id(env.db_url, "carol")
        c.post(f"/admin/users/{carol}/active", data=_form(token, active="false"))
        c.post(f"/admin/users/{carol}/sessions/revoke", data=_form(token))
        r = c.get("/admin/audit.csv")
        assert r.status_code == 200 and "user_added" in r.text
        c.post("/logout", data=_form(token))
    assert seen == [
        ("/admin/users", 1), (f"/admin/users/{carol}/active", 2), (f"/admin/users/{carol}/sessions/revoke", 3),
        ("/admin/audit.csv", 4), ("/logout", 5),
    ]  # fmt: skip


# --- 14. Role separation: privileged roles need a second admin; no admin is an investigator ----------


def test_an_admin_cannot_make_themself_an_investigator(env: Env) -> None:  # noqa: F811
    adam = env.client()
    token = login(adam, "adam")
    form = _form(token, username="adam-alt", password="long enough password", roles=["investigator"])
    assert adam.post("/admin/users", data=form).status_code == 303
    assert _roles(env.db_url, "adam-alt") == ""  # created, but the role waits for a second admin
    alt = env.client()
    alt_token = login(alt, "adam-alt", "long enough password")
    iid = item_id(env.db_url, "m1")
    assert alt.post(f"/api/items/{iid}/reveal", headers={"X-CSRF-Token": alt_token}).status_code == 403
    [grant] = _audit(env.db_url, "grant_requested")
    grant_id = json.loads(grant.detail)["grant"]
    assert adam.post(f"/admin/grants/{grant_id}/approve", data=_form(token)).status_code == 422  # not by the asker
    assert _roles(env.db_url, "adam-alt") == ""
    ada = env.client()
    assert ada.post(f"/admin/grants/{grant_id}/approve", data=_form(login(ada, "ada"))).status_code == 303
    assert _roles(env.db_url, "adam-alt") == "investigator"
    assert alt.post(f"/api/items/{iid}/reveal", headers={"X-CSRF-Token": alt_token}).status_code == 200
    [approved] = _audit(env.db_url, "grant_approved")
    assert approved.actor == "ada" and json.loads(approved.detail)["requested_by"] == "adam"
    # An admin cannot mint a second admin to approve their own requests either.
    form = _form(token, username="adam-two", password="long enough password", roles=["admin"])
    assert adam.post("/admin/users", data=form).status_code == 303
    assert _roles(env.db_url, "adam-two") == ""


def test_no_account_is_both_admin_and_investigator(env: Env) -> None:  # noqa: F811
    adam = env.client()
    token = login(adam, "adam")
    both = _form(token, username="eve", password="long enough password", roles=["admin", "investigator"])
    r = adam.post("/admin/users", data=both)
    assert r.status_code == 422 and "cannot also be an investigator" in r.text
    ivan = _user_id(env.db_url, "ivan")
    assert adam.post(f"/admin/users/{ivan}/roles", data=_form(token, roles=["investigator", "admin"])).status_code == 422
    assert _roles(env.db_url, "ivan") == "investigator"
    r = runner.invoke(cli, ["review", "add-user", "eve", "--role", "admin,investigator", "--password-stdin", "--db", env.db_url],
                      input="long enough password\n")  # fmt: skip
    assert r.exit_code == 2 and "cannot also be an investigator" in r.output
    assert runner.invoke(cli, ["review", "grant-investigator", "adam", "--db", env.db_url]).exit_code == 2
    r = runner.invoke(cli, ["review", "grant-investigator", "alice", "--db", env.db_url])
    assert r.exit_code == 0 and _roles(env.db_url, "alice") == "reviewer;investigator", r.output
    assert [(e.actor, json.loads(e.detail)["username"]) for e in _audit(env.db_url, "role_granted")] == [("cli", "alice")]
    # An account that holds both from before this rule gets neither power to reveal.
    with session_scope(env.db_url) as s:
        s.add(User(username="legacy", password_hash=hash_password(PASSWORD), roles="investigator;admin", active=True))
    legacy = env.client()
    legacy_token = login(legacy, "legacy")
    iid = item_id(env.db_url, "m1")
    assert legacy.post(f"/api/items/{iid}/reveal", headers={"X-CSRF-Token": legacy_token}).status_code == 403


# --- 15. Escalated items belong to their assignee; decided items change only by an audited reopen ----


def _decide_form(c: TestClient, token: str, iid: int, version: int, decision: str, **extra: Any) -> Any:
    return c.post(f"/items/{iid}/decision", data=_form(token, decision=decision, version=str(version), **extra))


def test_escalated_items_are_decided_only_by_the_assignee_or_an_investigator(env: Env) -> None:  # noqa: F811
    alice, ada, bob = env.client(), env.client(), env.client()
    ta, tada, tb = login(alice, "alice"), login(ada, "ada"), login(bob, "bob")
    m2 = item_id(env.db_url, "m2")
    r = _decide_form(alice, ta, m2, 1, "escalated", escalate_to="bob", note="second opinion")
    assert r.status_code == 303 and _status(env.db_url, m2) == ("escalated", 2)
    r = ada.post(f"/api/items/{m2}/decision", json={"decision": "not_violation", "version": 2}, headers={"X-CSRF-Token": tada})
    assert r.status_code == 403 and "escalated to bob" in r.json()["detail"]
    assert _decide_form(ada, tada, m2, 2, "not_violation").status_code == 403
    assert _status(env.db_url, m2) == ("escalated", 2)
    assert _decide_form(bob, tb, m2, 2, "not_violation").status_code == 303
    assert _status(env.db_url, m2) == ("not_violation", 3)


def test_decided_items_change_only_through_an_audited_reopen(env: Env) -> None:  # noqa: F811
    alice, bob, ivan = env.client(), env.client(), env.client()
    ta, tb, ti = login(alice, "alice"), login(bob, "bob"), login(ivan, "ivan")
    m1 = item_id(env.db_url, "m1")
    assert _decide_form(alice, ta, m1, 1, "confirmed", labels=["race"]).status_code == 303
    # bob loaded the current version and still cannot overwrite the decision
    r = bob.post(f"/api/items/{m1}/decision", json={"decision": "not_violation", "version": 2}, headers={"X-CSRF-Token": tb})
    assert r.status_code == 409 and "reopen" in r.json()["detail"]
    page = bob.get(f"/items/{m1}").text
    assert 'id="decision-form"' not in page and 'id="btn-reopen"' not in page
    assert alice.post(f"/items/{m1}/reopen", data=_form(ta, version="2", note="misclick")).status_code == 403
    assert ivan.post(f"/items/{m1}/reopen", data=_form(ti, version="2", note="")).status_code == 422
    assert 'id="btn-reopen"' in ivan.get(f"/items/{m1}").text
    assert ivan.post(f"/items/{m1}/reopen", data=_form(ti, version="2", note="wrong label")).status_code == 303
    assert _status(env.db_url, m1) == ("pending", 3)
    [reopen] = _audit(env.db_url, "reopen")
    assert (reopen.actor, reopen.item_id, json.loads(reopen.detail)) == (
        "ivan", m1, {"previous": "confirmed", "decided_by": "alice"},
    )  # fmt: skip
    assert _decide_form(bob, tb, m1, 3, "not_violation").status_code == 303
    assert _status(env.db_url, m1) == ("not_violation", 4)


# --- 16. Limits: bodies capped before reading, out-of-range numbers are 4xx, pseudonyms of 64 bits ----


def test_oversized_bodies_are_refused_before_reading(env: Env) -> None:  # noqa: F811
    c = env.client()
    big = b"x" * (env.settings.max_body_bytes + 1)
    assert c.post("/login", content=big, headers={"content-type": "application/x-www-form-urlencoded"}).status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams
        for _ in range(64):
            yield b"y" * 65536

    assert c.post("/login", content=chunks(), headers={"content-type": "application/x-www-form-urlencoded"}).status_code == 413
    assert c.post("/login", data={"username": "a", "password": "b"}).status_code == 403  # small bodies pass on


def test_a_declared_300_mb_body_is_refused_unread_on_uvicorn(sqlite_url: str) -> None:  # noqa: F811
    from fixtures.review.support import seed

    seed(sqlite_url)
    with live_app(settings_for(sqlite_url)) as base:
        host, port = base.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=5) as s:
            s.sendall(b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                      b"Content-Length: 314572800\r\n\r\nusername=a")  # fmt: skip
            assert s.recv(4096).startswith(b"HTTP/1.1 413")


def test_out_of_range_numbers_are_4xx_never_500(env: Env) -> None:  # noqa: F811
    c = TestClient(create_app(env.settings), follow_redirects=False, raise_server_exceptions=False)
    token = login(c, "ivan")  # type: ignore[arg-type]
    huge = 2**70
    assert c.get("/api/queue", params={"page": 10**30}).status_code == 422
    assert c.get("/queue", params={"page": 10**30}).status_code == 422
    assert c.get("/api/queue", params={"page": 999_999}).json()["items"] == []  # far but in range: empty page
    for path in (f"/api/items/{huge}", f"/items/{huge}", "/items/0"):
        assert c.get(path).status_code == 422, path
    assert c.get("/api/items/2147483647").status_code == 404
    iid = item_id(env.db_url, "m1")
    r = c.post(f"/api/items/{iid}/decision", json={"decision": "not_violation", "version": huge}, headers={"X-CSRF-Token": token})
    assert r.status_code == 422
    assert c.post(f"/items/{iid}/decision", data=_form(token, decision="not_violation", version=str(huge))).status_code == 422
    assert c.post(f"/api/items/{huge}/reveal", headers={"X-CSRF-Token": token}).status_code == 422
    admin = TestClient(create_app(env.settings), follow_redirects=False, raise_server_exceptions=False)
    admin_token = login(admin, "adam")  # type: ignore[arg-type]
    assert admin.post(f"/admin/users/{huge}/active", data=_form(admin_token, active="false")).status_code == 422
    assert admin.post(f"/admin/grants/{huge}/approve", data=_form(admin_token)).status_code == 422
    assert admin.post("/admin/grants/77/approve", data=_form(admin_token)).status_code == 404


def test_pseudonyms_have_64_bits_and_do_not_collide() -> None:
    aliases = {pseudonym(f"person{i}@city.example", SECRET) for i in range(20_000)}
    assert len(aliases) == 20_000
    alias = pseudonym("someone@city.example", SECRET)
    assert alias.startswith("User-") and len(alias) == len("User-") + 16 and int(alias[5:], 16) >= 0


# --- 17. Files are 0600 whatever the umask; the cookie is Secure over HTTPS; TLS proxy documented -----


@pytest.fixture
def loose_umask() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_database_exports_and_audit_export_are_0600(sqlite_url: str, tmp_path: Path, loose_umask: None) -> None:  # noqa: F811
    from fixtures.review.support import seed

    url = sqlite_url
    seed(url)
    db = tmp_path / "review.db"
    assert {p.name for p in tmp_path.iterdir()} >= {"review.db", "review.db-wal", "review.db-shm"}
    for p in (db, tmp_path / "review.db-wal", tmp_path / "review.db-shm"):
        assert _mode(p) == 0o600, p
    stale = tmp_path / "reviewed.jsonl"
    stale.write_text("old\n")
    stale.chmod(0o644)
    outputs = [tmp_path / "reviewed.parquet", stale, tmp_path / "out" / "audit.csv"]
    export_reviewed(url, outputs[0], secret_key=SECRET)
    export_reviewed(url, outputs[1], secret_key=SECRET)
    export_audit_csv(url, outputs[2])
    for p in outputs:
        assert _mode(p) == 0o600, p
    assert len(pd.read_parquet(outputs[0])) == 0 and "export" in outputs[2].read_text()


def test_session_cookie_is_secure_over_https_by_default(env: Env) -> None:  # noqa: F811
    def cookie(client: TestClient) -> str:
        r = client.post("/login", data=_form(csrf_of(client), username="alice", password=PASSWORD))
        return r.headers["set-cookie"].lower()

    assert "; secure" in cookie(TestClient(create_app(env.settings), base_url="https://review.city.example", follow_redirects=False))
    assert "; secure" not in cookie(env.client())  # plain http on loopback (development) still works
    forced = create_app(settings_for(env.db_url, cookie_secure=True))
    assert "; secure" in cookie(TestClient(forced, follow_redirects=False))


def test_tls_proxy_guide_exists_and_is_linked() -> None:
    root = Path(__file__).resolve().parents[1]
    guide = (root / "docs" / "review-tls.md").read_text()
    for needed in ("Caddyfile", "nginx", "MAILGUARD_REVIEW_TRUSTED_PROXIES", "X-Forwarded-Proto"):
        assert needed in guide
    assert "docs/review-tls.md" in (root / "README.md").read_text()
