"""Administration: managing users and reading the audit log (admins cannot read mail without a reviewer role)."""

from __future__ import annotations

import io
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from serve.review import audit
from serve.review.deps import Admin, ClientIp, Db
from serve.review.models import ROLES, User
from serve.review.templating import render
from serve.review.users import UserError, add_user

router = APIRouter(prefix="/admin", tags=["admin"])


def _users_page(request: Request, db: Db, user: User, status_code: int = 200, error: str = "") -> Response:
    users = db.scalars(select(User).order_by(User.username)).all()
    return render(request, "users.html", status_code=status_code, user=user, users=users, roles=ROLES, error=error)


@router.get("/users", response_class=HTMLResponse)
def users_page(request: Request, db: Db, user: Admin) -> Response:
    return _users_page(request, db, user)


@router.post("/users", response_class=HTMLResponse)
def create_user(
    request: Request,
    db: Db,
    user: Admin,
    ip: ClientIp,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    roles: Annotated[list[str] | None, Form()] = None,
) -> Response:
    try:
        new = add_user(db, username, password, roles or [])
    except UserError as e:
        db.rollback()
        return _users_page(request, db, user, status_code=422, error=str(e))
    audit.record(db, "user_added", actor=user.username, ip=ip, username=new.username, roles=new.roles)
    request.session["flash"] = f"Added {new.username}."
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/users/{user_id}/active", response_class=HTMLResponse)
def set_active(
    request: Request, user_id: int, db: Db, user: Admin, ip: ClientIp, active: Annotated[bool, Form()]
) -> Response:
    target = db.get(User, user_id)
    if target is None:
        raise HTTPException(status_code=404, detail=f"no user {user_id}")
    if target.id == user.id and not active:
        return _users_page(request, db, user, status_code=422, error="you cannot deactivate yourself")
    target.active = active
    audit.record(db, "user_active", actor=user.username, ip=ip, username=target.username, active=active)
    return RedirectResponse("/admin/users", status_code=303)


@router.get("/audit.csv")
def audit_csv(db: Db, user: Admin, ip: ClientIp) -> Response:
    rows = audit.audit_rows(db)
    audit.record(db, "audit_export", actor=user.username, ip=ip, rows=len(rows))
    buf = io.StringIO()
    audit.write_audit_csv(rows, buf)
    return Response(
        buf.getvalue(), media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="mailguard-audit.csv"'},
    )  # fmt: skip
