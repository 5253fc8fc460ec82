"""The Jinja2 environment of the review pages (autoescaping on: mail text is always escaped)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from mailguard.taxonomy import DESCRIPTIONS, LABELS
from serve.review.security import new_csrf_token

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
templates.env.globals.update(LABELS=LABELS, DESCRIPTIONS=DESCRIPTIONS)


def csrf_token(request: Request) -> str:
    """Return the session's CSRF token, creating one for a new session."""
    token = request.session.get("csrf")
    if not token:
        token = new_csrf_token()
        request.session["csrf"] = token
    return token


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Return the rendered page ``name`` with the CSRF token and flash message in its context."""
    context.setdefault("user", None)
    context["csrf_token"] = csrf_token(request)
    context["flash"] = request.session.pop("flash", None)
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def too_many_attempts(request: Request, window_s: int, name: str, **context: Any) -> HTMLResponse:
    """Return page ``name`` as a 429 saying when to try again (login throttling)."""
    msg = f"Too many failed logins. Try again in {max(1, window_s // 60)} minutes."
    response = render(request, name, status_code=429, error=msg, **context)
    response.headers["Retry-After"] = str(window_s)
    return response
