"""ASGI middleware of the review app: security headers, the signed session cookie and the request-body cap.

All plain ASGI (no BaseHTTPMiddleware): an error raised while the body streams in reaches the app as itself.
"""

from __future__ import annotations

import json
from base64 import b64decode, b64encode
from typing import Literal

import itsdangerous
from fastapi import HTTPException
from itsdangerous.exc import BadSignature
from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class SecurityHeaders:
    """Add ``headers`` to every response, and ``Cache-Control: no-store`` to all but static files."""

    def __init__(self, app: ASGIApp, *, headers: dict[str, str]) -> None:
        self.app = app
        self.headers = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.update(self.headers)
                if not scope["path"].startswith("/static/"):
                    headers["Cache-Control"] = "no-store"  # mail text must not linger in browser caches
            await send(message)

        await self.app(scope, receive, send_with_headers)


class SignedCookieSession:
    """Carry ``request.session`` in a signed cookie, marked ``Secure`` when the request came over HTTPS.

    The cookie holds the session token, the CSRF token and a flash message; who is logged in, and
    whether that still holds, lives in the ``sessions`` table (see ``serve.review.sessions``).
    ``secure="auto"`` decides per request from the scheme, after uvicorn applied trusted proxy headers.
    """

    def __init__(
        self, app: ASGIApp, *, secret_key: str, cookie_name: str, max_age: int, secure: Literal["auto"] | bool
    ) -> None:
        self.app = app
        self.signer = itsdangerous.TimestampSigner(secret_key)
        self.cookie_name = cookie_name
        self.max_age = max_age
        self.secure = secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        raw = HTTPConnection(scope).cookies.get(self.cookie_name)
        scope["session"] = self._load(raw) if raw else {}
        secure = scope.get("scheme") in ("https", "wss") if self.secure == "auto" else bool(self.secure)
        flags = "httponly; samesite=lax" + ("; secure" if secure else "")

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if scope["session"]:
                    data = b64encode(json.dumps(scope["session"]).encode())
                    value = self.signer.sign(data).decode()
                    headers.append("Set-Cookie", f"{self.cookie_name}={value}; path=/; Max-Age={self.max_age}; {flags}")
                elif raw:
                    headers.append(
                        "Set-Cookie", f"{self.cookie_name}=null; path=/; expires=Thu, 01 Jan 1970 00:00:00 GMT; {flags}"
                    )
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    def _load(self, raw: str) -> dict[str, object]:
        try:
            data = json.loads(b64decode(self.signer.unsign(raw.encode(), max_age=self.max_age)))
        except (BadSignature, ValueError):
            return {}
        return data if isinstance(data, dict) else {}


class BodyTooLarge(HTTPException):
    """The request body is over the cap; answered 413 without reading the rest.

    FastAPI's HTTPException: FastAPI passes that one through its body parsing instead of turning it into a 400.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=f"request body larger than {limit} bytes")


class BodyLimit:
    """Answer 413 to a request whose body exceeds ``max_bytes``: by Content-Length before reading, else as it streams.

    The app sees at most ``max_bytes`` of body, so no form or JSON parser ever holds more in memory.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._reject(send)
            return
        seen = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def watch(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, watch)
        except BodyTooLarge:
            if started:
                raise
            await self._reject(send)

    async def _reject(self, send: Send) -> None:
        body = json.dumps({"detail": f"request body larger than {self.max_bytes} bytes"}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                   (b"connection", b"close")]  # fmt: skip
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})
