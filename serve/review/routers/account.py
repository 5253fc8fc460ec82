"""The logged-in user's own account: roles, pending grants, and changing the password (which ends every session)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from serve.review import audit, throttle
from serve.review.deps import SESSION_TOKEN, ClientIp, CurrentUser, Db, Settings
from serve.review.models import RoleGrant, User
from serve.review.security import new_csrf_token, verify_password
from serve.review.sessions import start_session
from serve.review.templating import render, too_many_attempts
from serve.review.users import UserError, set_password

router = APIRouter(prefix="/account", tags=["account"])


def _page(request: Request, db: Db, user: User, status_code: int = 200, error: str = "") -> Response:
    pending = db.scalars(select(RoleGrant).where(RoleGrant.user_id == user.id, RoleGrant.status == "pending"))
    return render(request, "account.html", status_code=status_code, user=user, pending=list(pending), error=error)


@router.get("", response_class=HTMLResponse)
def account_page(request: Request, db: Db, user: CurrentUser) -> Response:
    return _page(request, db, user)


@router.post("/password", response_class=HTMLResponse)
def change_password(
    request: Request,
    db: Db,
    user: CurrentUser,
    settings: Settings,
    ip: ClientIp,
    current: Annotated[str, Form(max_length=1024)],
    new: Annotated[str, Form(max_length=1024)],
) -> Response:
    # Guesses at the current password count like login guesses: a copied cookie must not become a password oracle.
    if throttle.admit(db, user.username, ip, throttle.Limits.of(settings), known_address=False):
        return too_many_attempts(request, settings.login_window_s, "account.html", user=user, pending=[])
    if not verify_password(user.password_hash, current):
        audit.record(db, "password_change_failed", actor=user.username, ip=ip)
        db.commit()
        return _page(request, db, user, status_code=403, error="The current password is wrong.")
    throttle.release(db, user.username, ip)
    try:
        ended = set_password(db, user, new)
    except UserError as e:
        db.rollback()
        return _page(request, db, user, status_code=422, error=str(e))
    # Every session ended, this one too (a stolen cookie dies with the old password); this browser gets a new one.
    token = start_session(db, user, ip)
    audit.record(db, "password_changed", actor=user.username, ip=ip, username=user.username, sessions_ended=ended)
    db.commit()
    request.session.clear()
    request.session.update({SESSION_TOKEN: token, "csrf": new_csrf_token(), "flash": "Password changed; other sessions ended."})
    return RedirectResponse("/account", status_code=303)
