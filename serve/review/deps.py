"""FastAPI dependencies as Annotated aliases: settings, database session, logged-in user by role, CSRF."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy.orm import Session

from serve.review.db import session_scope
from serve.review.models import User
from serve.review.security import csrf_matches
from serve.review.settings import ReviewSettings

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
_UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


class LoginRequired(Exception):
    """No valid session: API routes answer 401, pages redirect to /login."""


def get_settings(request: Request) -> ReviewSettings:
    """Return the app's settings object."""
    return request.app.state.settings


Settings = Annotated[ReviewSettings, Depends(get_settings)]


def get_db(settings: Settings) -> Iterator[Session]:
    """Yield a session for one request; committed when the route returns without error."""
    with session_scope(settings.db) as session:
        yield session


Db = Annotated[Session, Depends(get_db)]


def client_ip(request: Request) -> str:
    """Return the peer address of the request (the app is served behind no trusted proxy by default)."""
    return request.client.host if request.client else ""


ClientIp = Annotated[str, Depends(client_ip)]


def current_user(request: Request, db: Db) -> User:
    """Return the logged-in, active user; raise ``LoginRequired`` otherwise."""
    uid = request.session.get("uid")
    user = db.get(User, uid) if isinstance(uid, int) else None
    if user is None or not user.active:
        request.session.clear()
        raise LoginRequired()
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def _need(allowed: set[str], what: str):  # type: ignore[no-untyped-def]
    def check(user: CurrentUser) -> User:
        if not user.role_set & allowed:
            raise HTTPException(status_code=403, detail=f"this needs the {what} role")
        return user

    return check


#: May read mail and decide: reviewers and investigators (an admin needs one of these roles too).
Reviewer = Annotated[User, Depends(_need({"reviewer", "investigator"}, "reviewer or investigator"))]
#: May reveal real identities.
Investigator = Annotated[User, Depends(_need({"investigator"}, "investigator"))]
#: Manages users and reads the audit log.
Admin = Annotated[User, Depends(_need({"admin"}, "admin"))]


async def check_csrf(request: Request) -> None:
    """Reject any state-changing request whose CSRF token does not match the session's (403)."""
    if request.method not in _UNSAFE:
        return
    given = request.headers.get(CSRF_HEADER)
    if not given and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        given = (await request.form()).get(CSRF_FIELD)  # type: ignore[assignment]
    if not csrf_matches(request.session.get("csrf"), given if isinstance(given, str) else None):
        raise HTTPException(status_code=403, detail="missing or invalid CSRF token; reload the page and try again")
