"""The storage API: everything below `/1.5/`, as one plain ASGI app.

`app.py` sends every `/1.5/` request here straight from the outer layers,
without Starlette's router and exception middlewares (which the ops and
tokenserver routes still use): the storage API routes on the raw path
itself and answers every error itself, so those layers only cost time
(about 30 µs of CPU per request, docs/performance.md).

Per request: route on the raw path (404/405), read the body (413), then ONE
worker-thread hop runs authentication and the handler with its storage
session (both synchronous), retrying once on a quick conflict (§4.3); a
small read that cannot wait runs on the event loop instead (_SMALL_READS).
Whatever happens, the answer carries X-Weave-Timestamp (§7) and errors have
the bare-integer bodies of §14; an unexpected exception is logged and
answered 500 with body 0, never a traceback.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from starlette.types import Receive, Scope, Send

from syncstorage import metrics
from syncstorage.auth import AuthError, HawkAuthenticator, NonceStoreUnavailable
from syncstorage.storage import ConflictError, InvalidOffsetError, UnavailableError
from syncstorage.timestamps import format_ms, now_ms
from syncstorage.web import collection, item, user
from syncstorage.web.clients import is_rejected_user_agent
from syncstorage.web.context import Call, Context, Result
from syncstorage.web.errors import (
    OVER_QUOTA,
    RETRY_AFTER_CONFLICT,
    RETRY_AFTER_UNAVAILABLE,
    SIZE_LIMIT,
    HTTPError,
    error_body,
)
from syncstorage.web.routing import API_PREFIX, resolve
from syncstorage.web.validation import DIGITS_RE, bounded_int, parse_query

log = logging.getLogger(__name__)

Handler = Callable[[Context, Call], Result]

# route -> method -> handler (storage-api §1.3); HEAD is served as GET
ROUTES: dict[str, dict[str, Handler]] = {
    "storage_root": {"DELETE": user.delete_storage},
    "info/collections": {"GET": user.info_collections},
    "info/quota": {"GET": user.info_quota},
    "info/collection_usage": {"GET": user.info_collection_usage},
    "info/collection_counts": {"GET": user.info_collection_counts},
    "info/configuration": {"GET": user.info_configuration},
    "collection": {
        "GET": collection.get_collection,
        "POST": collection.post_collection,
        "DELETE": collection.delete_collection,
    },
    "item": {"GET": item.get_item, "PUT": item.put_item, "DELETE": item.delete_item},
}
_WITH_BODY = frozenset(("PUT", "POST"))
# GETs that read a few rows by key, whatever the data: one user's
# collection timestamps (§8), a fixed body, one item. Where nothing they do
# can wait (Storage.reads_never_wait, an in-process nonce store) they run on
# the event loop: the thread hop and its GIL hand-offs cost more than they
# do. Steady benchmark, SQLite: -11 % CPU per request, p99 75-95 -> 56-64 ms
# (docs/performance.md). Listings stay on threads: their size is the
# client's to choose.
_SMALL_READS = frozenset(("info/collections", "info/configuration", "item"))
# A conflict this soon after the request started is a same-10-ms clash with
# another write, worth one retry; a slower one is real contention (§4.3).
_RETRY_WITHIN = 0.2
_RETRY_SLEEP = 0.01
_API_PREFIX_BYTES = API_PREFIX.encode()


class _Disconnected(Exception):
    pass


def is_storage_api(scope: Scope) -> bool:
    """A request for the storage API: any raw path below /1.5/ (the
    public_url prefix already removed)."""
    return scope["type"] == "http" and scope["raw_path"].startswith(_API_PREFIX_BYTES)


class StorageAPI:
    """The ASGI app of every request `is_storage_api` claims."""

    def __init__(self, ctx: Context, authenticator: HawkAuthenticator) -> None:
        self.ctx = ctx
        self.authenticator = authenticator
        self.max_request_bytes = ctx.limits["max_request_bytes"]
        # Threads for the blocking storage work, as many as the storage says
        # are useful; writes have their own, so a writer waiting for a lock
        # never holds up a read. A plain executor hop costs 81 µs of CPU
        # where anyio's run_in_threadpool costs 151 µs (docs/performance.md,
        # "Changes made", 4).
        storage = ctx.storage
        self.read_executor = ThreadPoolExecutor(storage.read_threads, thread_name_prefix="read")
        self.write_executor = ThreadPoolExecutor(storage.write_threads, thread_name_prefix="write")
        self.inline_reads = (
            _SMALL_READS if storage.reads_never_wait and authenticator.in_process else frozenset()
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.monotonic()
        scope.setdefault("state", {})  # what the request log reports (syncstorage.requestlog)
        try:
            result = await self._respond(scope, receive, started)
        except _Disconnected:
            return
        except HTTPError as exc:
            if exc.code == OVER_QUOTA:
                scope["state"]["reason"] = "over quota"
            result = _error_result(exc)
        except Exception:
            log.exception("unexpected error on %s %s", scope["method"], scope["raw_path"])
            result = _error_result(HTTPError(500))
        await _send(send, result, self.ctx.extra_headers, head=scope["method"] == "HEAD")

    async def _respond(self, scope: Scope, receive: Receive, started: float) -> Result:
        method = scope["method"]
        as_method = "GET" if method == "HEAD" else method
        raw_path = scope["raw_path"].decode("latin-1")
        target = resolve(raw_path)
        state = scope["state"]
        state["route"], state["uid"] = target.route, target.uid
        handler = ROUTES[target.route].get(as_method)
        if handler is None:
            raise HTTPError(405)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        if self.ctx.reject_old_ios_clients and is_rejected_user_agent(headers.get("user-agent")):
            state["reason"] = "Firefox iOS client older than 20"
            raise HTTPError(503)  # storage-api §15.3
        body = await self._read_body(receive, headers) if method in _WITH_BODY else b""
        query_string = scope["query_string"].decode("latin-1")
        call = Call(as_method, target, parse_query(query_string), headers, body)
        authenticate = partial(
            self.authenticator.authenticate,
            method=method,
            path=raw_path,
            query_string=query_string,
            headers=headers,
            scheme=scope.get("scheme", "http"),
            path_uid=target.uid,
            # expired-token grace for polling clients (auth-and-tokens §5.5)
            allow_expired=target.route == "info/collections",
        )
        if as_method == "GET" and target.route in self.inline_reads:
            return self._run(handler, call, authenticate, started, state)
        loop = asyncio.get_running_loop()
        executor = self.read_executor if as_method == "GET" else self.write_executor
        return await loop.run_in_executor(
            executor, self._run, handler, call, authenticate, started, state
        )

    async def _read_body(self, receive: Receive, headers: dict[str, str]) -> bytes:
        """The whole body, or 413 body 17 as soon as it is too large (§5.2)."""
        limit = self.max_request_bytes
        declared = headers.get("content-length", "")
        if DIGITS_RE.fullmatch(declared) and bounded_int(declared, limit + 1) > limit:
            raise HTTPError(413, SIZE_LIMIT)
        chunks = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Disconnected()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise HTTPError(413, SIZE_LIMIT)
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    def _run(
        self, handler: Handler, call: Call, authenticate: Callable[[], object], started: float,
        state: dict,
    ) -> Result:
        """Runs in a worker thread: authentication, then the handler. Why a
        401/503 is answered goes to state["reason"] for the request log."""
        try:
            authenticate()
        except AuthError as exc:
            state["reason"] = exc.reason
            log.info("401 on %s %s: %s", call.method, call.target, exc.reason)
            headers = {"WWW-Authenticate": exc.www_authenticate} if exc.www_authenticate else {}
            raise HTTPError(401, headers=headers) from None
        except NonceStoreUnavailable:
            state["reason"] = "nonce store unavailable"
            log.warning("nonce store unavailable", exc_info=True)
            raise HTTPError(503, headers={"Retry-After": RETRY_AFTER_UNAVAILABLE}) from None
        try:
            try:
                return handler(self.ctx, call)
            except ConflictError:
                if time.monotonic() - started > _RETRY_WITHIN:
                    raise
            log.debug("conflict on %s %s, retrying once", call.method, call.target)
            time.sleep(_RETRY_SLEEP)
            return handler(self.ctx, call)  # with a fresh session and T
        except ConflictError:
            state["reason"] = "conflict: collection busy or timestamp would not advance"
            metrics.observe_conflict()
            raise HTTPError(503, headers={"Retry-After": RETRY_AFTER_CONFLICT}) from None
        except UnavailableError:
            state["reason"] = "database unavailable"
            log.warning("storage unavailable", exc_info=True)
            raise HTTPError(503, headers={"Retry-After": RETRY_AFTER_UNAVAILABLE}) from None
        except InvalidOffsetError:
            raise HTTPError(400) from None


def _error_result(exc: HTTPError) -> Result:
    return Result(
        error_body(exc.code),
        status=exc.status,
        last_modified=exc.last_modified,
        headers=exc.headers,
    )


async def _send(
    send: Send, result: Result, extra_headers: list[tuple[bytes, bytes]], head: bool
) -> None:
    headers = [(b"content-length", str(len(result.body)).encode())]
    if result.body or result.status < 300:  # 304/412 have neither (§14.1)
        headers.append((b"content-type", result.content_type.encode()))
    if result.last_modified is not None:
        headers.append((b"x-last-modified", format_ms(result.last_modified).encode()))
    # A write's own T; otherwise now, but never before X-Last-Modified (§7)
    timestamp = result.timestamp
    if timestamp is None:
        timestamp = max(now_ms(), result.last_modified or 0)
    headers.append((b"x-weave-timestamp", format_ms(timestamp).encode()))
    headers.extend((k.lower().encode(), v.encode()) for k, v in result.headers.items())
    headers.extend(extra_headers)
    await send({"type": "http.response.start", "status": result.status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else result.body})
