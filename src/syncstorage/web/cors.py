"""CORS (storage-api §15.2).

Hand-written rather than Starlette's CORSMiddleware because the spec wants
what that middleware does not do: with the default origin `*`, echo the
request's Origin verbatim (Starlette sends a literal `*` unless credentials
are allowed, which would add a header we do not want), and answer every
preflight 200, whatever headers or method it asks for, on any path, before
routing and authentication.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

ALLOWED_METHODS = "DELETE, GET, POST, PUT"
ALLOWED_HEADERS = ", ".join(
    (
        "Authorization",
        "Content-Type",
        "User-Agent",
        "X-Last-Modified",
        "X-Weave-Timestamp",
        "X-Weave-Next-Offset",
        "X-Weave-Records",
        "X-Weave-Bytes",
        "X-Weave-Total-Records",
        "X-Weave-Total-Bytes",
        "X-Verify-Code",
        "X-If-Modified-Since",
        "X-If-Unmodified-Since",
    )
)
MAX_AGE = "1728000"  # 20 days


class CORSMiddleware:
    def __init__(self, app: ASGIApp, allowed_origin: str = "*") -> None:
        self.app = app
        self.allowed_origin = allowed_origin

    def _allow_origin(self, origin: bytes) -> bytes | None:
        if self.allowed_origin == "*" or origin.decode("latin-1") == self.allowed_origin:
            return origin
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        origin = None
        preflight = False
        for name, value in scope["headers"]:
            if name == b"origin":
                origin = value
            elif name == b"access-control-request-method":
                preflight = True
        if origin is None:
            await self.app(scope, receive, send)
            return
        allowed = self._allow_origin(origin)
        if preflight and scope["method"] == "OPTIONS":
            await _send_preflight(send, allowed)
            return
        if allowed is None:
            await self.app(scope, receive, send)
            return

        async def send_with_origin(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"access-control-allow-origin", allowed))
                headers.append((b"vary", b"Origin"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_origin)


async def _send_preflight(send: Send, allowed: bytes | None) -> None:
    headers = [(b"content-length", b"0"), (b"vary", b"Origin")]
    if allowed is not None:
        headers += [
            (b"access-control-allow-origin", allowed),
            (b"access-control-allow-methods", ALLOWED_METHODS.encode()),
            (b"access-control-allow-headers", ALLOWED_HEADERS.encode()),
            (b"access-control-max-age", MAX_AGE.encode()),
        ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b""})
