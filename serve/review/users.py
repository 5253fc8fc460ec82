"""Creating and listing review-app users (CLI and admin pages share these)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailguard.errors import MailguardError
from serve.review.models import ROLES, User
from serve.review.security import hash_password

MIN_PASSWORD_LENGTH = 12


class UserError(MailguardError):
    """A user cannot be created as asked (duplicate name, unknown role, weak password)."""


def check_roles(roles: Iterable[str]) -> list[str]:
    """Return ``roles`` de-duplicated in canonical order; raise ``UserError`` on an unknown or empty set."""
    wanted = {r.strip().lower() for r in roles if r.strip()}
    unknown = sorted(wanted - set(ROLES))
    if unknown or not wanted:
        raise UserError(f"roles must be one or more of {', '.join(ROLES)}; got {', '.join(sorted(wanted)) or 'none'}")
    return [r for r in ROLES if r in wanted]


def add_user(session: Session, username: str, password: str, roles: Iterable[str]) -> User:
    """Return a new active user with an argon2-hashed password; raise ``UserError`` if it cannot be added."""
    username = username.strip()
    if not username or len(username) > 80 or any(c.isspace() for c in username):
        raise UserError("user names are 1-80 characters without spaces")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"passwords need at least {MIN_PASSWORD_LENGTH} characters")
    role_list = check_roles(roles)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise UserError(f"user {username!r} already exists")
    user = User(username=username, password_hash=hash_password(password), roles=";".join(role_list), active=True)
    session.add(user)
    session.flush()
    return user


def create_user(db_url: str, username: str, password: str, roles: Iterable[str]) -> str:
    """Return the roles (";"-joined) of a user added to the database at ``db_url`` (migrating it first)."""
    from serve.review import audit
    from serve.review.db import migrate, session_scope

    migrate(db_url)
    with session_scope(db_url) as session:
        user = add_user(session, username, password, roles)
        audit.record(session, "user_added", actor="cli", username=user.username, roles=user.roles)
        return user.roles
