"""FastAPI dependencies as Annotated aliases: settings, database session, logged-in user by role, CSRF, ids."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi import Path as PathParam
from sqlalchemy.orm import Session

from serve.review.db import session_factory
from serve.review.models import User
from serve.review.security import csrf_matches
from serve.review.sessions import resume_session
from serve.review.settings import ReviewSettings

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SESSION_TOKEN = "sid"
_UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
#: Largest id or version a route accepts: PostgreSQL's INTEGER; beyond it a lookup would fail, not miss.
MAX_DB_INT = 2**31 - 1


class LoginRequired(Exception):
    """No valid session: API routes answer 401, pages redirect to /login."""


def get_settings(request: Request) -> ReviewSettings:
    """Return the app's settings object."""
    return request.app.state.settings


Settings = Annotated[ReviewSettings, Depends(get_settings)]


def get_db(settings: Settings) -> Iterator[Session]:
    """Yield a session for one request; whatever the route did not commit itself is rolled back.

    Routes commit an action and its audit record together before they return, so nothing is
    answered before it is on record, and an action whose audit record was never committed never
    happened (the dependency's own exit may run only after the response is sent).
    """
    session = session_factory(settings.db)()
    try:
        yield session
    finally:
        session.rollback()
        session.close()


Db = Annotated[Session, Depends(get_db)]


def client_ip(request: Request) -> str:
    """Return the client address: the peer, or what a proxy listed in ``trusted_proxies`` forwarded."""
    return request.client.host if request.client else ""


ClientIp = Annotated[str, Depends(client_ip)]


def current_user(request: Request, db: Db, settings: Settings) -> User:
    """Return the active user of the request's live server-side session; raise ``LoginRequired`` otherwise."""
    token = request.session.get(SESSION_TOKEN)
    found = None
    if isinstance(token, str):
        found = resume_session(
            db, token, idle_timeout_s=settings.session_idle_timeout_s, max_age_s=settings.session_max_age_s
        )
        db.commit()  # a touched or timed-out session is written now, before the route runs
    if found is None or not found.user.active:
        request.session.clear()
        raise LoginRequired()
    return found.user


CurrentUser = Annotated[User, Depends(current_user)]


def _need(allowed: set[str], what: str):  # type: ignore[no-untyped-def]
    def check(user: CurrentUser) -> User:
        if not user.role_set & allowed:
            raise HTTPException(status_code=403, detail=f"this needs the {what} role")
        return user

    return check


def _investigator(user: CurrentUser) -> User:
    if not user.can_reveal:
        raise HTTPException(status_code=403, detail="this needs the investigator role (held by no admin account)")
    return user


#: May read mail and decide: reviewers and investigators (an admin needs one of these roles too).
Reviewer = Annotated[User, Depends(_need({"reviewer", "investigator"}, "reviewer or investigator"))]
#: May reveal real identities and reopen decisions.
Investigator = Annotated[User, Depends(_investigator)]
#: Manages users and reads the audit log.
Admin = Annotated[User, Depends(_need({"admin"}, "admin"))]

#: Path ids beyond the database's integer range are 422, not a failed lookup.
ItemId = Annotated[int, PathParam(ge=1, le=MAX_DB_INT)]
UserId = Annotated[int, PathParam(ge=1, le=MAX_DB_INT)]
GrantId = Annotated[int, PathParam(ge=1, le=MAX_DB_INT)]


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
