"""Login and logout, with per-username+IP rate limiting counted from the audit log."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, select

from serve.review import audit
from serve.review.deps import ClientIp, CurrentUser, Db, Settings
from serve.review.models import AuditEvent, User, utcnow
from serve.review.security import new_csrf_token, verify_password
from serve.review.templating import render

router = APIRouter(tags=["auth"])


def _recent_failures(db: Db, username: str, ip: str, window_s: int) -> int:
    since = utcnow() - timedelta(seconds=window_s)
    stmt = select(func.count(AuditEvent.id)).where(
        AuditEvent.action == "login_failed", AuditEvent.actor == username, AuditEvent.ip == ip, AuditEvent.at >= since
    )
    return db.scalar(stmt) or 0


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
    if _recent_failures(db, username, ip, settings.login_window_s) >= settings.login_max_failures:
        audit.record(db, "login_blocked", actor=username, ip=ip)
        minutes = settings.login_window_s // 60
        msg = f"Too many failed logins. Try again in {minutes} minutes."
        return render(request, "login.html", status_code=429, error=msg, username=username)
    user = db.scalar(select(User).where(User.username == username))
    if not verify_password(user.password_hash if user else None, password) or user is None or not user.active:
        audit.record(db, "login_failed", actor=username, ip=ip)
        return render(request, "login.html", status_code=401, error="Unknown user or wrong password.", username=username)
    audit.record(db, "login", actor=username, ip=ip)
    db.commit()
    # A fresh session on login: a token planted before login is worthless afterwards.
    request.session.clear()
    request.session.update({"uid": user.id, "csrf": new_csrf_token()})
    target = "/queue" if user.can_review else "/admin/users"
    return RedirectResponse(target, status_code=303)


@router.post("/logout")
def logout(request: Request, db: Db, ip: ClientIp) -> Response:
    uid = request.session.get("uid")
    user = db.get(User, uid) if isinstance(uid, int) else None
    if user is not None:
        audit.record(db, "logout", actor=user.username, ip=ip)
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@router.get("/")
def home(user: CurrentUser) -> Response:
    return RedirectResponse("/queue" if user.can_review else "/admin/users", status_code=303)
