"""The review web app: ``create_app(settings)`` wires middleware, routers, error pages and static files."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from serve.review.db import migrate
from serve.review.deps import LoginRequired, check_csrf
from serve.review.routers import admin, auth, items, queue
from serve.review.settings import ReviewSettings, load_settings
from serve.review.templating import render

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
        SessionMiddleware, secret_key=settings.secret_key.get_secret_value(), session_cookie="mailguard_session",
        max_age=settings.session_max_age_s, same_site="lax", https_only=settings.cookie_secure,
    )  # fmt: skip

    @app.middleware("http")
    async def security_headers(request: Request, call_next):  # type: ignore[no-untyped-def]
        response: Response = await call_next(request)
        response.headers.update(_SECURITY_HEADERS)
        if not request.url.path.startswith("/static/"):
            response.headers["Cache-Control"] = "no-store"  # mail text must not linger in browser caches
        return response

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

    for module in (auth, queue, items, admin):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    return app
