"""One structured log line per HTTP request (issue 5 item 6).

The outermost ASGI layer: it sees every request, CORS preflights included,
and logs method, route, status, duration and a hashed user id after the
response is sent. Inner layers explain failures through the request's
`scope["state"]` (Starlette's `request.state`), a dict this layer creates
before calling them, so copies of the scope made further in still share it:

    state["route"]   route name, e.g. "collection" (storage-api §1.3)
    state["template"] the route's template, for the metrics layer (not logged)
    state["uid"]     the user id of the URL (only its hash is logged)
    state["reason"]  why a 401, 403 or 503 was answered (e.g. the AuthError
                     reason: "expired token", "invalid mac"), or a token
                     request refused (the TokenserverError reason)

Never logged: bodies, query strings, headers, tokens, secrets.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("syncstorage.request")
MAX_REASON_CHARS = 200
MAX_CACHED_UID_HASHES = 100_000  # a few MB at most


class RequestLogMiddleware:
    def __init__(self, app: ASGIApp, master_secrets: list[str]) -> None:
        self.app = app
        # Keyed: a plain hash of a small integer uid would be trivially
        # reversed. The oldest secret keeps hashes stable across rotations.
        oldest = master_secrets[0] if master_secrets else ""
        self.uid_hash_key = hashlib.sha256(b"syncstorage request log\0" + oldest.encode()).digest()
        # the hashes of recent uids: a user syncs many times an hour, and an
        # HMAC per request was 2-3 % of an info/collections request's CPU
        # (profiled, docs/performance.md); bounded, emptied when full
        self._uid_hashes: dict[int, str] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        state = scope.setdefault("state", {})
        status = 500  # if the app fails before answering

        async def send_and_note_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note_status)
        finally:
            fields = {
                "method": scope["method"],
                "route": state.get("route") or (scope["path"] if status != 404 else "unknown"),
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            }
            if state.get("uid") is not None:
                fields["uid_hash"] = self.hash_uid(state["uid"])
            if state.get("reason"):
                # a few reasons quote what the client sent (a duplicated Hawk
                # attribute's name, an unknown version): bounded, not echoed
                fields["reason"] = state["reason"][:MAX_REASON_CHARS]
            log.info("%s %s %d", fields["method"], fields["route"], status, extra={"fields": fields})

    def hash_uid(self, uid: int) -> str:
        hashed = self._uid_hashes.get(uid)
        if hashed is None:
            if len(self._uid_hashes) >= MAX_CACHED_UID_HASHES:
                self._uid_hashes.clear()
            # hmac.digest: the one-call C path of HMAC-SHA256 (same value)
            hashed = hmac.digest(self.uid_hash_key, str(uid).encode(), "sha256").hex()[:16]
            self._uid_hashes[uid] = hashed
        return hashed
