"""Login throttling on atomic counters: per (user, address) pair, per user name, per address, per window.

Every attempt first increments its three counters in one short transaction (an upsert that returns
the new count, so two parallel guesses can never both read "4 of 5") and only then is the password
checked; a login that succeeds gives its reservation back. Attempts over a limit are refused without
a password check and counted on the row that refused them; the audit log gets one ``login_blocked``
entry when a key is first refused in a window and one ``login_refused`` with the count when the window ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import case, delete, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from serve.review import audit
from serve.review.models import LoginAttempt, utcnow
from serve.review.settings import ReviewSettings

PAIR, USER, IP = "pair", "user", "ip"


@dataclass(frozen=True)
class Limits:
    """Failed logins allowed per window: per pair always; per user and per address from unknown addresses."""

    pair: int
    user: int
    ip: int
    window_s: int

    @classmethod
    def of(cls, settings: ReviewSettings) -> Limits:
        """Return the limits set in ``settings`` (login_*)."""
        return cls(
            pair=settings.login_max_failures, user=settings.login_user_max_failures,
            ip=settings.login_ip_max_failures, window_s=settings.login_window_s,
        )  # fmt: skip


def admit(db: Session, username: str, ip: str, limits: Limits, *, known_address: bool) -> str:
    """Return "" when this attempt may check its password, else the key that refused it (pair, user or ip).

    An admitted attempt is counted as failed until ``release`` gives it back. ``known_address`` (the
    user logged in from ``ip`` lately) exempts the attempt from the per-user and per-address limits.
    Commits twice: once after pruning ended windows, once after counting.
    """
    username, ip = username[:80], ip[:64]
    now = utcnow()
    since = now - timedelta(seconds=limits.window_s)
    _prune(db, since)
    db.commit()  # pruning never waits on a counter a concurrent attempt holds (SKIP LOCKED), so it ends first
    keys = _keys(username, ip)
    counts = {scope: _bump(db, scope, u, a, now, since) for scope, (u, a) in keys.items()}
    refused = ""
    if counts[PAIR] > limits.pair:
        refused = PAIR
    elif not known_address and counts[USER] > limits.user:
        refused = USER
    elif not known_address and counts[IP] > limits.ip:
        refused = IP
    if refused:
        for scope, (u, a) in keys.items():  # a refused attempt checked no password: not a failure
            n_refused = _add(db, scope, u, a, failures=-1, refused=int(scope == refused))
            if scope == refused and n_refused == 1:
                audit.record(db, "login_blocked", actor=username, ip=ip, limit=refused)
    db.commit()
    return refused


def release(db: Session, username: str, ip: str) -> None:
    """Give back the reservation of an attempt whose password was right; clear its pair's failures."""
    username, ip = username[:80], ip[:64]
    keys = _keys(username, ip)
    db.execute(
        update(LoginAttempt)
        .where(LoginAttempt.scope == PAIR, LoginAttempt.username == username, LoginAttempt.ip == ip)
        .values(failures=0),
        execution_options={"synchronize_session": False},
    )
    for scope in (USER, IP):
        _add(db, scope, *keys[scope], failures=-1, refused=0)


def _keys(username: str, ip: str) -> dict[str, tuple[str, str]]:
    # Always in this order, so two transactions never wait on each other's rows crosswise.
    return {PAIR: (username, ip), USER: (username, ""), IP: ("", ip)}


def _bump(db: Session, scope: str, username: str, ip: str, now: Any, since: Any) -> int:
    insert = postgresql.insert if db.get_bind().dialect.name == "postgresql" else sqlite.insert
    expired = LoginAttempt.window_start < since
    stmt = (
        insert(LoginAttempt)
        .values(scope=scope, username=username, ip=ip, window_start=now, failures=1, refused=0)
        .on_conflict_do_update(
            index_elements=["scope", "username", "ip"],
            set_={
                "failures": case((expired, 1), else_=LoginAttempt.failures + 1),
                "refused": case((expired, 0), else_=LoginAttempt.refused),
                "window_start": case((expired, now), else_=LoginAttempt.window_start),
            },
        )
        .returning(LoginAttempt.failures)
    )
    return int(db.execute(stmt).scalar_one())


def _add(db: Session, scope: str, username: str, ip: str, *, failures: int, refused: int) -> int:
    """Return the key's refused count after adding ``failures`` (never below 0) and ``refused`` to it."""
    found = db.execute(
        update(LoginAttempt)
        .where(LoginAttempt.scope == scope, LoginAttempt.username == username, LoginAttempt.ip == ip)
        .values(
            failures=case((LoginAttempt.failures + failures < 0, 0), else_=LoginAttempt.failures + failures),
            refused=LoginAttempt.refused + refused,
        )
        .returning(LoginAttempt.refused),
        execution_options={"synchronize_session": False},
    ).scalar()
    return int(found or 0)


def _prune(db: Session, since: Any) -> None:
    columns = (LoginAttempt.scope, LoginAttempt.username, LoginAttempt.ip)
    key = tuple_(*columns)
    ended = select(*columns).where(LoginAttempt.window_start < since).with_for_update(skip_locked=True)
    gone = db.execute(
        delete(LoginAttempt)
        .where(key.in_(ended))
        .returning(LoginAttempt.scope, LoginAttempt.username, LoginAttempt.ip, LoginAttempt.refused),
        execution_options={"synchronize_session": False},
    )
    for scope, username, ip, refused in gone:
        if refused:
            audit.record(db, "login_refused", actor=username, ip=ip, limit=scope, refused=refused)
