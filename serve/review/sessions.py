"""Server-side login sessions: the cookie holds a random token, the ``sessions`` row says whether it still counts.

A session ends on logout, on a password change, on deactivation, when an admin revokes it, after
``session_idle_timeout_s`` without a request, and ``session_max_age_s`` after login, whichever is first.
Ended sessions stay in the table (revoked_at, revoked_reason) so an admin can see how each ended.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from serve.review.models import LoginSession, User, utcnow
from serve.review.security import new_session_token, token_digest

#: Longest gap between two writes of ``last_seen_at``: one write a minute per session, not one per request.
TOUCH_EVERY_S = 60

LOGOUT, PASSWORD_CHANGED, DEACTIVATED, ADMIN_REVOKED, IDLE, EXPIRED = (
    "logout", "password_changed", "deactivated", "admin_revoked", "idle", "expired",
)  # fmt: skip


def start_session(db: Session, user: User, ip: str) -> str:
    """Return the cookie token of a new session for ``user`` (the row is added; the caller commits)."""
    token = new_session_token()
    now = utcnow()
    db.add(LoginSession(id=token_digest(token), user_id=user.id, ip=ip[:64], created_at=now, last_seen_at=now))
    return token


def resume_session(db: Session, token: str, *, idle_timeout_s: int, max_age_s: int) -> LoginSession | None:
    """Return the live session behind ``token``, or None when it is unknown, revoked or timed out.

    A session found timed out is marked revoked (idle or expired); a live one has its last-seen
    time moved on. The caller commits either change.
    """
    row = db.get(LoginSession, token_digest(token))
    if row is None or row.revoked_at is not None:
        return None
    now = utcnow()
    if now - row.created_at > timedelta(seconds=max_age_s):
        _revoke(row, EXPIRED)
        return None
    idle = now - row.last_seen_at
    if idle > timedelta(seconds=idle_timeout_s):
        _revoke(row, IDLE)
        return None
    if idle > timedelta(seconds=min(TOUCH_EVERY_S, idle_timeout_s / 4)):
        row.last_seen_at = now
    return row


def end_session(db: Session, token: str, reason: str = LOGOUT) -> LoginSession | None:
    """Return the session behind ``token`` after revoking it (None if there is no live one)."""
    row = db.get(LoginSession, token_digest(token))
    if row is None or row.revoked_at is not None:
        return None
    _revoke(row, reason)
    return row


def revoke_user_sessions(db: Session, user_id: int, reason: str) -> int:
    """Return how many live sessions of the user were revoked (the caller commits)."""
    result = db.execute(
        update(LoginSession)
        .where(LoginSession.user_id == user_id, LoginSession.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason=reason),
        execution_options={"synchronize_session": False},
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def live_session_counts(db: Session) -> dict[int, int]:
    """Return user id -> number of sessions not revoked (timed-out ones count until next seen)."""
    stmt = select(LoginSession.user_id, func.count()).where(LoginSession.revoked_at.is_(None))
    return {uid: int(n) for uid, n in db.execute(stmt.group_by(LoginSession.user_id))}


def known_address(db: Session, user_id: int, ip: str, days: int) -> bool:
    """Return whether ``user_id`` logged in from ``ip`` within the last ``days`` days."""
    since = utcnow() - timedelta(days=days)
    stmt = select(LoginSession.id).where(
        LoginSession.user_id == user_id, LoginSession.ip == ip[:64], LoginSession.created_at >= since
    )
    return db.scalar(stmt.limit(1)) is not None


def _revoke(row: LoginSession, reason: str) -> None:
    row.revoked_at = utcnow()
    row.revoked_reason = reason
