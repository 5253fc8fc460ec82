"""Creating users, changing their password, roles and active flag (CLI and admin pages share these)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailguard.errors import MailguardError
from serve.review import sessions
from serve.review.models import ROLES, User
from serve.review.security import hash_password

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024


class UserError(MailguardError):
    """A user cannot be created or changed as asked (duplicate name, unknown role, weak password...)."""


def check_roles(roles: Iterable[str], *, allow_none: bool = False) -> list[str]:
    """Return ``roles`` de-duplicated in canonical order; raise ``UserError`` on an unknown set or admin + investigator.

    An admin manages accounts, an investigator reveals identities: one account never holds both, or an
    admin could hand themself the power to unmask anyone.
    """
    wanted = {r.strip().lower() for r in roles if r.strip()}
    unknown = sorted(wanted - set(ROLES))
    if unknown or (not wanted and not allow_none):
        raise UserError(f"roles must be one or more of {', '.join(ROLES)}; got {', '.join(sorted(wanted)) or 'none'}")
    if {"admin", "investigator"} <= wanted:
        raise UserError("an admin account cannot also be an investigator; use two accounts")
    return [r for r in ROLES if r in wanted]


def check_password(password: str) -> None:
    """Raise ``UserError`` unless ``password`` is 12 to 1024 characters long."""
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise UserError(f"passwords need {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters")


def add_user(session: Session, username: str, password: str, roles: Iterable[str], *, allow_no_role: bool = False) -> User:
    """Return a new active user with an argon2-hashed password; raise ``UserError`` if it cannot be added.

    ``allow_no_role``: the web form may create an account whose only role still awaits approval.
    """
    username = username.strip()
    if not username or len(username) > 80 or any(c.isspace() for c in username):
        raise UserError("user names are 1-80 characters without spaces")
    check_password(password)
    role_list = check_roles(roles, allow_none=allow_no_role)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise UserError(f"user {username!r} already exists")
    user = User(username=username, password_hash=hash_password(password), roles=";".join(role_list), active=True)
    session.add(user)
    session.flush()
    return user


def find_user(session: Session, username: str) -> User:
    """Return the user called ``username``; raise ``UserError`` if there is none."""
    user = session.scalar(select(User).where(User.username == username.strip()))
    if user is None:
        raise UserError(f"no user {username!r}")
    return user


def set_password(session: Session, user: User, password: str) -> int:
    """Return how many sessions of ``user`` ended because their password changed to ``password``."""
    check_password(password)
    user.password_hash = hash_password(password)
    return sessions.revoke_user_sessions(session, user.id, sessions.PASSWORD_CHANGED)


def set_active(session: Session, user: User, active: bool) -> int:
    """Return how many sessions ended after (de)activating ``user``: deactivation ends all of them."""
    user.active = active
    return 0 if active else sessions.revoke_user_sessions(session, user.id, sessions.DEACTIVATED)


def create_user(db_url: str, username: str, password: str, roles: Iterable[str]) -> str:
    """Return the roles (";"-joined) of a user added to the database at ``db_url`` (migrating it first)."""
    from serve.review import audit
    from serve.review.db import migrate, session_scope

    migrate(db_url)
    with session_scope(db_url) as session:
        user = add_user(session, username, password, roles)
        audit.record(session, "user_added", actor="cli", username=user.username, roles=user.roles)
        return user.roles


def change_password(db_url: str, username: str, password: str) -> int:
    """Return how many sessions ended after setting the password of ``username`` (audited as the CLI)."""
    from serve.review import audit
    from serve.review.db import migrate, session_scope

    migrate(db_url)
    with session_scope(db_url) as session:
        user = find_user(session, username)
        ended = set_password(session, user, password)
        audit.record(session, "password_changed", actor="cli", username=user.username, sessions_ended=ended)
        return ended


def revoke_sessions(db_url: str, username: str) -> int:
    """Return how many live sessions of ``username`` were revoked (audited as the CLI)."""
    from serve.review import audit
    from serve.review.db import migrate, session_scope

    migrate(db_url)
    with session_scope(db_url) as session:
        user = find_user(session, username)
        ended = sessions.revoke_user_sessions(session, user.id, sessions.ADMIN_REVOKED)
        audit.record(session, "sessions_revoked", actor="cli", username=user.username, sessions_ended=ended)
        return ended
