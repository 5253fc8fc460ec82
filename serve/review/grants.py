"""Privileged roles (investigator, admin) need two people: one admin asks, another approves, or the server's CLI grants.

One admin alone could otherwise make a second account for themself and reveal anyone's identity, or
make a second admin account to approve their own requests. Every step is audited by the caller.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.orm import Session

from mailguard.errors import MailguardError
from serve.review.models import PRIVILEGED_ROLES, RoleGrant, User, utcnow
from serve.review.users import check_roles, find_user

PENDING, APPROVED, REJECTED = "pending", "approved", "rejected"


class GrantError(MailguardError):
    """A role grant cannot be asked for, approved or rejected as asked."""


class GrantNotFound(GrantError):
    """No pending grant has the requested id."""


def set_roles(db: Session, target: User, wanted: Iterable[str], *, by: User) -> list[RoleGrant]:
    """Return the grants asked for while giving ``target`` the roles ``wanted`` (admin ``by`` acting).

    Plain roles change at once and privileged roles already held may be kept or dropped; a privileged
    role not yet held becomes a pending grant for another admin. Raises ``UserError`` for a role set
    that is unknown or mixes admin and investigator, ``GrantError`` when a grant cannot be asked for.
    """
    roles = check_roles(wanted, allow_none=True)
    held = target.role_set
    target.roles = ";".join(r for r in roles if r not in PRIVILEGED_ROLES or r in held)
    return [request_grant(db, target, r, by=by) for r in roles if r in PRIVILEGED_ROLES and r not in held]


def request_grant(db: Session, target: User, role: str, *, by: User) -> RoleGrant:
    """Return a new pending grant of ``role`` to ``target`` asked for by admin ``by``."""
    _check_grantable(target, role)
    if by.id == target.id:
        raise GrantError(f"you cannot ask for the {role} role for yourself")
    pending = db.scalar(select(RoleGrant.id).where(_open(target.id, role)))
    if pending is not None:
        raise GrantError(f"{target.username} already has a pending {role} grant ({pending})")
    grant = RoleGrant(user_id=target.id, role=role, status=PENDING, requested_by_id=by.id, requested_at=utcnow())
    db.add(grant)
    db.flush()
    return grant


def approve_grant(db: Session, grant_id: int, *, by: User) -> RoleGrant:
    """Return the grant after admin ``by`` approved it and its role was added; the asker cannot approve."""
    grant = _pending(db, grant_id)
    if by.id in (grant.requested_by_id, grant.user_id):
        raise GrantError("a second admin must approve this grant: you asked for it or would receive it")
    _check_grantable(grant.user, grant.role)
    _give(grant.user, grant.role)
    grant.status, grant.decided_by_id, grant.decided_at = APPROVED, by.id, utcnow()
    return grant


def reject_grant(db: Session, grant_id: int, *, by: User) -> RoleGrant:
    """Return the grant after admin ``by`` rejected (or, as its asker, withdrew) it."""
    grant = _pending(db, grant_id)
    grant.status, grant.decided_by_id, grant.decided_at = REJECTED, by.id, utcnow()
    return grant


def pending_grants(db: Session) -> list[RoleGrant]:
    """Return the grants awaiting a decision, oldest first."""
    return list(db.scalars(select(RoleGrant).where(RoleGrant.status == PENDING).order_by(RoleGrant.id)))


def grant_role(db_url: str, username: str, role: str = "investigator") -> str:
    """Return the roles (";"-joined) of ``username`` after the server's CLI granted it ``role`` (audited).

    Someone with a shell on the review server is the second person; pending web grants of the role
    for this user are marked approved by the CLI.
    """
    from serve.review import audit
    from serve.review.db import migrate, session_scope

    migrate(db_url)
    with session_scope(db_url) as db:
        target = find_user(db, username)
        _check_grantable(target, role)
        _give(target, role)
        now = utcnow()
        for grant in db.scalars(select(RoleGrant).where(_open(target.id, role))):
            grant.status, grant.decided_at = APPROVED, now
        audit.record(db, "role_granted", actor="cli", username=target.username, role=role, roles=target.roles)
        return target.roles


def _check_grantable(target: User, role: str) -> None:
    if role not in PRIVILEGED_ROLES:
        raise GrantError(f"only {' and '.join(PRIVILEGED_ROLES)} are granted; other roles change directly")
    if not target.active:
        raise GrantError(f"{target.username} is deactivated")
    if role in target.role_set:
        raise GrantError(f"{target.username} already holds the {role} role")
    check_roles([*target.role_set, role], allow_none=True)  # admin + investigator is refused here


def _give(target: User, role: str) -> None:
    target.roles = ";".join(check_roles([*target.role_set, role]))


def _open(user_id: int, role: str) -> ColumnElement[bool]:
    return and_(RoleGrant.user_id == user_id, RoleGrant.role == role, RoleGrant.status == PENDING)


def _pending(db: Session, grant_id: int) -> RoleGrant:
    grant = db.get(RoleGrant, grant_id)
    if grant is None or grant.status != PENDING:
        raise GrantNotFound(f"no pending grant {grant_id}")
    return grant
