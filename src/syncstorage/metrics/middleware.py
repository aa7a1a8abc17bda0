"""The ASGI middleware that times every request and records it by route
template, method and status.

The route comes from the HTTP layer, never from the raw path (which carries
uids and ids): Starlette's router puts the matched route in `scope["route"]`,
whose `path` is its template; the storage API, which routes on the raw path
itself, puts the template of its route (web/routes.py) in
`scope["state"]["template"]`; reading it there keeps metrics below the web
layer, which imports metrics. Requests no route claimed are recorded as
"unmatched". This middleware must sit INSIDE the prefix middleware (last in
Starlette's middleware list): that one passes a copy of the scope on, and the
router writes `scope["route"]` into the copy.
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from syncstorage import metrics

UNMATCHED = "unmatched"
# The client went away before any answer was sent (nginx's convention).
CLIENT_CLOSED = 499


def route_template(scope: Scope) -> str:
    template = getattr(scope.get("route"), "path", None)
    if template is None:
        template = scope.get("state", {}).get("template", UNMATCHED)
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
