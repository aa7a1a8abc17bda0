"""The storage API: everything below `/1.5/`, as one plain ASGI app.

`app.py` sends every `/1.5/` request here straight from the outer layers,
without Starlette's router and exception middlewares (which the ops and
tokenserver routes still use): the storage API routes on the raw path
itself and answers every error itself, so those layers only cost time
(about 30 µs of CPU per request, docs/performance.md).

Per request: route on the raw path (404/405), read the body (413), then ONE
worker-thread hop runs authentication and the handler with its storage
session (both synchronous), retrying a conflicted handler for up to
`conflict_retry_seconds` (storage-model §5.4); a small read that cannot
wait runs on the event loop instead (`Route.inline_read`, web/routes.py).
Whatever happens, the answer carries X-Weave-Timestamp (§7) and errors have
the bare-integer bodies of §14; an unexpected exception is logged and
answered 500 with body 0, never a traceback.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from starlette.types import Receive, Scope, Send

from syncstorage import metrics
from syncstorage.auth import AuthError, HawkAuthenticator, Identity, NonceStoreUnavailable
from syncstorage.logs import one_line
from syncstorage.storage import ConflictError, InvalidOffsetError, UnavailableError, UserMigrating
from syncstorage.timestamps import format_ms, now_ms
from syncstorage.web.clients import is_rejected_user_agent
from syncstorage.web.context import Call, Context, Handler, Result
from syncstorage.web.errors import (
    OVER_QUOTA,
    RETRY_AFTER_CONFLICT,
    RETRY_AFTER_MIGRATION,
    RETRY_AFTER_UNAVAILABLE,
    SIZE_LIMIT,
    HTTPError,
    error_body,
)
from syncstorage.web.routing import API_PREFIX, resolve
from syncstorage.web.validation import DIGITS_RE, bounded_int, parse_query

log = logging.getLogger(__name__)

_WITH_BODY = frozenset(("PUT", "POST"))
# Pause before retrying a conflicted request: past the next 10 ms tick
# (its T must be later), plus up to one more tick at random so the writers
# that conflicted together do not collide again (storage-model §5.4).
_TICK_S = 0.01
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
        self.conflict_retry_seconds = ctx.conflict_retry_seconds
        # The longest a request waits for a free worker thread. When the
        # database stops answering, every thread waits database_timeout for
        # it, and without this bound a burst of requests would queue for
        # many times that before each got its own 503 (issue 10, finding 4).
        self.queue_timeout = ctx.database_timeout
        # Threads for the blocking storage work, as many as the storage says
        # are useful; writes have their own, so a writer waiting for a lock
        # never holds up a read. A plain executor hop costs 81 µs of CPU
        # where anyio's run_in_threadpool costs 151 µs (docs/performance.md,
        # "Changes made", 4).
        storage = ctx.storage
        self.read_executor = ThreadPoolExecutor(storage.read_threads, thread_name_prefix="read")
        self.write_executor = ThreadPoolExecutor(storage.write_threads, thread_name_prefix="write")
        self.inline_reads = storage.reads_never_wait and authenticator.in_process

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope.setdefault("state", {})  # what the request log reports (syncstorage.requestlog)
        try:
            result = await self._respond(scope, receive)
        except _Disconnected:
            return
        except HTTPError as exc:
            if exc.code == OVER_QUOTA:
                scope["state"]["reason"] = "over quota"
            result = _error_result(exc)
        except Exception:
            # a bug: the traceback, and the route rather than the path, which
            # holds the uid (the request line follows with its keyed hash)
            route = scope["state"].get("route", "?")
            log.exception("unexpected error on %s %s", scope["method"], route)
            result = _error_result(HTTPError(500))
        await _send(send, result, self.ctx.extra_headers, head=scope["method"] == "HEAD")

    async def _respond(self, scope: Scope, receive: Receive) -> Result:
        method = scope["method"]
        as_method = "GET" if method == "HEAD" else method
        raw_path = scope["raw_path"].decode("latin-1")
        target = resolve(raw_path)
        route = target.route
        state = scope["state"]
        # the template is the metrics' label (syncstorage.metrics.middleware)
        state["route"], state["template"], state["uid"] = route.name, route.template, target.uid
        handler = route.handlers.get(as_method)
        if handler is None:
            raise HTTPError(405)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        if self.ctx.reject_old_ios_clients and is_rejected_user_agent(headers.get("user-agent")):
            state["reason"] = "Firefox iOS client older than 20"
            raise HTTPError(503)  # storage-api §15.3
        body = await self._read_body(receive, headers, state) if method in _WITH_BODY else b""
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
            allow_expired=route.expired_token_grace,
        )
        if as_method == "GET" and route.inline_read and self.inline_reads:
            # on the event loop nothing may sleep: no retries (a WAL read
            # takes no lock, so it does not conflict)
            return self._run(handler, call, authenticate, state, retry_seconds=0)
        executor = self.read_executor if as_method == "GET" else self.write_executor
        future = executor.submit(
            self._run, handler, call, authenticate, state, self.conflict_retry_seconds
        )
        # future.cancel() succeeds only while the call is still queued: one
        # that runs is bounded by the database's own deadlines
        expired: list[bool] = []

        def expire() -> None:
            if future.cancel():
                expired.append(True)

        timer = asyncio.get_running_loop().call_later(self.queue_timeout, expire)
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            if not expired:
                raise  # the client went away
            state["reason"] = f"busy: no worker thread free within {self.queue_timeout:g} s"
            raise HTTPError(503, headers={"Retry-After": RETRY_AFTER_UNAVAILABLE}) from None
        finally:
            timer.cancel()

    async def _read_body(self, receive: Receive, headers: dict[str, str], state: dict) -> bytes:
        """The whole body, or 413 body 17 as soon as it is too large (§5.2),
        or 408 when it does not arrive within body_timeout: uvicorn bounds
        the wait for a request's head (syncstorage.httpserver) but not for
        its body, and a client trickling one would hold the request."""
        limit = self.max_request_bytes
        declared = headers.get("content-length", "")
        if DIGITS_RE.fullmatch(declared) and bounded_int(declared, limit + 1) > limit:
            raise HTTPError(413, SIZE_LIMIT)
        try:
            async with asyncio.timeout(self.ctx.body_timeout):
                return await self._receive_body(receive, limit)
        except TimeoutError:
            state["reason"] = f"request body not received within {self.ctx.body_timeout:g} s"
            raise HTTPError(408, headers={"Connection": "close"}) from None

    @staticmethod
    async def _receive_body(receive: Receive, limit: int) -> bytes:
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
        self, handler: Handler, call: Call, authenticate: Callable[[], Identity], state: dict,
        retry_seconds: float,
    ) -> Result:
        """Authentication, then the handler (in a worker thread, or on the
        loop when retry_seconds is 0). An expected refusal is logged by the
        request log alone: its reason goes to state["reason"] (the request
        line carries the uid only as a keyed hash, and no traceback)."""
        try:
            identity = authenticate()
        except AuthError as exc:
            state["reason"] = exc.reason
            headers = {"WWW-Authenticate": exc.www_authenticate} if exc.www_authenticate else {}
            raise HTTPError(401, headers=headers) from None
        except NonceStoreUnavailable as exc:
            state["reason"] = one_line("nonce store unavailable", exc)
            raise HTTPError(503, headers={"Retry-After": RETRY_AFTER_UNAVAILABLE}) from None
        try:
            if self.ctx.allow_migration and identity.fxa_uid is not None:
                # every endpoint, first (storage-model §9); a write session
                # checks again under its lock (storage/sql/moves.py)
                call.fxa_uid = identity.fxa_uid
                self.ctx.storage.refuse_if_migrating(identity.fxa_uid)
            return _retrying_conflicts(handler, self.ctx, call, retry_seconds)
        except UserMigrating:
            state["reason"] = "the user is moving to another node"
            raise HTTPError(503, headers={"Retry-After": RETRY_AFTER_MIGRATION}) from None
        except ConflictError as exc:
            # the error says which: a lock wait, a deadlock, a cluster
            # abort, or a timestamp that would not advance
            state["reason"] = one_line(f"conflict (retried for {retry_seconds:g} s)", exc)
            metrics.observe_conflict()
            raise HTTPError(503, headers={"Retry-After": RETRY_AFTER_CONFLICT}) from None
        except UnavailableError as exc:
            state["reason"] = one_line("database unavailable", exc)
            raise HTTPError(503, headers={"Retry-After": RETRY_AFTER_UNAVAILABLE}) from None
        except InvalidOffsetError:
            raise HTTPError(400) from None


def _retrying_conflicts(handler: Handler, ctx: Context, call: Call, seconds: float) -> Result:
    """The handler's result; a conflict runs it again, in a new session with
    a new T (so its preconditions are checked again), until `seconds` have
    passed (storage-model §5.4). Lock waits are bounded by the database's
    lock timeout (half of `seconds`, settings.lock_timeout)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return handler(ctx, call)
        except ConflictError:
            pause = _TICK_S - time.time() % _TICK_S + random.uniform(0, _TICK_S)
            if time.monotonic() + pause >= deadline:
                raise
        time.sleep(pause)


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
