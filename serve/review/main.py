"""The review web app: ``create_app(settings)`` wires middleware, routers, error pages and static files;
``server_config`` is how uvicorn serves it (the CLI and the loopback tests use the same)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from serve.review.db import migrate
from serve.review.deps import LoginRequired, check_csrf
from serve.review.middleware import BodyLimit, SecurityHeaders, SignedCookieSession
from serve.review.routers import account, admin, auth, grants, items, queue
from serve.review.settings import ReviewSettings, load_settings
from serve.review.templating import render

if TYPE_CHECKING:
    import uvicorn

# Scripts and styles come only from /static: an injected inline script would not run.
_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def create_app(settings: ReviewSettings | None = None) -> FastAPI:
    """Return the review app for ``settings`` (default: read from the environment)."""
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if settings.migrate_on_startup:
            migrate(settings.db)
        yield

    app = FastAPI(
        title="mailguard review", lifespan=lifespan, dependencies=[Depends(check_csrf)], docs_url=None,
        redoc_url=None, openapi_url=None,
    )  # fmt: skip
    app.state.settings = settings
    app.add_middleware(
        SignedCookieSession, secret_key=settings.secret_key.get_secret_value(), cookie_name="mailguard_session",
        max_age=settings.session_max_age_s, secure=settings.cookie_secure,
    )  # fmt: skip
    app.add_middleware(SecurityHeaders, headers=_SECURITY_HEADERS)

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, _: LoginRequired) -> Response:
        if _is_api(request):
            return JSONResponse({"detail": "log in first"}, status_code=401)
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if _is_api(request):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
        return render(request, "error.html", status_code=exc.status_code, status=exc.status_code, detail=exc.detail)

    for module in (auth, account, queue, items, admin, grants):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    # Added last, so outermost: an oversized body is refused before any other code touches it.
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    return app


def server_config(app: FastAPI, settings: ReviewSettings, *, host: str, port: int, **kwargs: object) -> uvicorn.Config:
    """Return uvicorn's config for ``app``: proxy headers are believed only from ``settings.trusted_proxies``.

    uvicorn's own default trusts X-Forwarded-For from 127.0.0.1, which would let anyone on the host
    pick their address for the login throttle and the audit log; an empty setting turns them off.
    """
    import uvicorn

    trusted = settings.trusted_proxies.strip()
    return uvicorn.Config(
        app, host=host, port=port, proxy_headers=bool(trusted), forwarded_allow_ips=trusted or [],
        server_header=False, **kwargs,  # type: ignore[arg-type]
    )  # fmt: skip
