"""The ASGI middleware that times every request and records it by route
template, method and status.

It must sit INSIDE the prefix middleware (last in Starlette's middleware
list): that one passes a new scope dict on, and the route is written into the
scope the router sees. The route comes from the HTTP layer, never from the
raw path (which carries uids and ids): the storage API sets
`scope[ROUTE_SCOPE_KEY]` to its template; Starlette's router sets
`scope["route"]` for ordinary routes, whose `path` is their template.
Requests no route claimed are recorded as "unmatched".
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from syncstorage import metrics
from syncstorage.web.routing import ROUTE_SCOPE_KEY

UNMATCHED = "unmatched"
# The client went away before any answer was sent (nginx's convention).
CLIENT_CLOSED = 499


def route_template(scope: Scope) -> str:
    template = scope.get(ROUTE_SCOPE_KEY)
    if template is None:
        template = getattr(scope.get("route"), "path", None) or UNMATCHED
    return template


class MetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = CLIENT_CLOSED

        async def send_and_note_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_and_note_status)
        except Exception:
            if status == CLIENT_CLOSED:
                status = 500  # what the server error middleware will answer
            raise
        finally:
            metrics.observe_request(
                route_template(scope), scope["method"], status, time.perf_counter() - started
            )
