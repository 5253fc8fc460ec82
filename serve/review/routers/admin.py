"""Administration: users, their roles and sessions, and the audit log (admins cannot read mail without a reviewer role).

Each route commits its change together with its audit record before it answers.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from sqlalchemy import select

from serve.review import audit, sessions
from serve.review.deps import Admin, ClientIp, Db, Settings, UserId
from serve.review.grants import GrantError, pending_grants, set_roles
from serve.review.models import ROLES, RoleGrant, User
from serve.review.templating import render
from serve.review.users import UserError, add_user, set_active

router = APIRouter(prefix="/admin", tags=["admin"])


def users_page(request: Request, db: Db, user: User, status_code: int = 200, error: str = "") -> Response:
    """Return the users page: accounts with roles and live sessions, grants awaiting a second admin."""
    users = db.scalars(select(User).order_by(User.username)).all()
    return render(
        request, "users.html", status_code=status_code, user=user, users=users, roles=ROLES, error=error,
        grants=pending_grants(db), live=sessions.live_session_counts(db),
    )  # fmt: skip


def _target(db: Db, user_id: int) -> User:
    target = db.get(User, user_id)
    if target is None:
        raise HTTPException(status_code=404, detail=f"no user {user_id}")
    return target


def _record_grants(db: Db, grants: list[RoleGrant], user: User, ip: str) -> str:
    for g in grants:
        audit.record(db, "grant_requested", actor=user.username, ip=ip, grant=g.id, username=g.user.username, role=g.role)
    return "".join(f" The {g.role} role awaits a second admin's approval." for g in grants)


@router.get("/users", response_class=HTMLResponse)
def list_users(request: Request, db: Db, user: Admin) -> Response:
    return users_page(request, db, user)


@router.post("/users", response_class=HTMLResponse)
def create_user(
    request: Request,
    db: Db,
    user: Admin,
    ip: ClientIp,
    username: Annotated[str, Form(max_length=80)],
    password: Annotated[str, Form(max_length=1024)],
    roles: Annotated[list[str] | None, Form()] = None,
) -> Response:
    try:
        new = add_user(db, username, password, [], allow_no_role=True)
        grants = set_roles(db, new, roles or [], by=user)
    except (UserError, GrantError) as e:
        db.rollback()
        return users_page(request, db, user, status_code=422, error=str(e))
    audit.record(db, "user_added", actor=user.username, ip=ip, username=new.username, roles=new.roles)
    waiting = _record_grants(db, grants, user, ip)
    db.commit()
    request.session["flash"] = f"Added {new.username}.{waiting}"
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/users/{user_id}/roles", response_class=HTMLResponse)
def change_roles(
    request: Request, user_id: UserId, db: Db, user: Admin, ip: ClientIp,
    roles: Annotated[list[str] | None, Form()] = None,
) -> Response:  # fmt: skip
    target = _target(db, user_id)
    before = target.roles
    if target.id == user.id and "admin" not in (roles or []):
        return users_page(request, db, user, status_code=422, error="ask another admin to remove your admin role")
    try:
        grants = set_roles(db, target, roles or [], by=user)
    except (UserError, GrantError) as e:
        db.rollback()
        return users_page(request, db, user, status_code=422, error=str(e))
    audit.record(db, "user_roles", actor=user.username, ip=ip, username=target.username, before=before, roles=target.roles)
    waiting = _record_grants(db, grants, user, ip)
    db.commit()
    request.session["flash"] = f"Roles of {target.username}: {target.roles.replace(';', ', ') or 'none'}.{waiting}"
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/users/{user_id}/active", response_class=HTMLResponse)
def change_active(
    request: Request, user_id: UserId, db: Db, user: Admin, ip: ClientIp, active: Annotated[bool, Form()]
) -> Response:
    target = _target(db, user_id)
    if target.id == user.id and not active:
        return users_page(request, db, user, status_code=422, error="you cannot deactivate yourself")
    ended = set_active(db, target, active)
    audit.record(
        db, "user_active", actor=user.username, ip=ip, username=target.username, active=active, sessions_ended=ended
    )
    db.commit()
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/users/{user_id}/sessions/revoke", response_class=HTMLResponse)
def revoke_sessions(request: Request, user_id: UserId, db: Db, user: Admin, ip: ClientIp) -> Response:
    target = _target(db, user_id)
    ended = sessions.revoke_user_sessions(db, target.id, sessions.ADMIN_REVOKED)
    audit.record(db, "sessions_revoked", actor=user.username, ip=ip, username=target.username, sessions_ended=ended)
    db.commit()
    request.session["flash"] = f"Ended {ended} session(s) of {target.username}."
    return RedirectResponse("/admin/users", status_code=303)


@router.get("/audit.csv")
def audit_csv(db: Db, user: Admin, ip: ClientIp, settings: Settings) -> Response:
    upto, rows = audit.snapshot(db)
    audit.record(db, "audit_export", actor=user.username, ip=ip, rows=rows)
    db.commit()  # on record before the first byte is streamed
    return StreamingResponse(
        audit.iter_audit_csv(settings.db, upto), media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="mailguard-audit.csv"'},
    )  # fmt: skip
