"""Login and logout: server-side sessions, throttled by atomic per-(user, address), per-user and per-address counters."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from serve.review import audit, throttle
from serve.review.deps import SESSION_TOKEN, ClientIp, CurrentUser, Db, Settings
from serve.review.models import User
from serve.review.security import new_csrf_token, verify_password
from serve.review.sessions import end_session, known_address, start_session
from serve.review.templating import render, too_many_attempts

router = APIRouter(tags=["auth"])


def home_for(user: User) -> str:
    """Return where a user lands: the queue for readers of mail, users for plain admins, else their account."""
    if user.can_review:
        return "/queue"
    return "/admin/users" if "admin" in user.role_set else "/account"


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> Response:
    return render(request, "login.html")


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    db: Db,
    settings: Settings,
    ip: ClientIp,
    username: Annotated[str, Form(max_length=80)],
    password: Annotated[str, Form(max_length=1024)],
) -> Response:
    username = username.strip()
    user = db.scalar(select(User).where(User.username == username))
    known = user is not None and known_address(db, user.id, ip, settings.login_known_address_days)
    # Counted before the (slow) password check, in its own transaction: parallel guesses each take a slot.
    if throttle.admit(db, username, ip, throttle.Limits.of(settings), known_address=known):
        return too_many_attempts(request, settings.login_window_s, "login.html", username=username)
    if not verify_password(user.password_hash if user else None, password) or user is None or not user.active:
        audit.record(db, "login_failed", actor=username, ip=ip)
        db.commit()
        return render(request, "login.html", status_code=401, error="Unknown user or wrong password.", username=username)
    throttle.release(db, username, ip)
    token = start_session(db, user, ip)
    audit.record(db, "login", actor=username, ip=ip)
    db.commit()
    # A fresh cookie on login: a token planted before login is worthless afterwards.
    request.session.clear()
    request.session.update({SESSION_TOKEN: token, "csrf": new_csrf_token()})
    return RedirectResponse(home_for(user), status_code=303)


@router.post("/logout")
def logout(request: Request, db: Db, ip: ClientIp) -> Response:
    token = request.session.get(SESSION_TOKEN)
    ended = end_session(db, token) if isinstance(token, str) else None
    if ended is not None:
        audit.record(db, "logout", actor=ended.user.username, ip=ip)
        db.commit()
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@router.get("/")
def home(user: CurrentUser) -> Response:
    return RedirectResponse(home_for(user), status_code=303)
