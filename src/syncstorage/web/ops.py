"""Operational endpoints (storage-api §15.1): no auth, no X-Weave-Timestamp;
and the landing page (web/landing.py), which shows the same checks to people.

Served at the bare root and, through the prefix middleware, below the prefix.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import subprocess
from collections.abc import Callable
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from syncstorage import __version__
from syncstorage.auth.nonces import NonceStore, NonceStoreUnavailable
from syncstorage.logs import one_line
from syncstorage.settings import Settings
from syncstorage.storage import ConflictError, Storage, UnavailableError
from syncstorage.web.landing import Endpoint, landing_routes

log = logging.getLogger(__name__)


# How long a heartbeat waits for a store's check: load balancers expect
# an answer within a second (0.5 s leaves room for a busy machine), and a
# database that takes longer to say SELECT 1 is not OK for them.
DATABASE_CHECK_WAIT = 0.5


def ops_routes(
    settings: Settings, storage: Storage, nonce_store: NonceStore, sign_in: Endpoint | None = None
) -> list[Route]:
    """The heartbeats, the version and the landing page at the root
    (`sign_in`: see `landing_routes`)."""
    quota = {"enabled": settings.quota_enabled, "size": settings.max_quota_limit}
    commit = settings.commit
    database_check = SharedCheck("database", storage.ping)
    nonce_store_check = SharedCheck("nonce store", nonce_store.ping)

    async def heartbeat(request: Request) -> Response:
        problem = await database_check.problem()
        if problem is not None:
            request.state.reason = problem  # the request line is the one log line
            body = {"status": "Err", "database": "Err", "version": __version__, "quota": quota}
            return JSONResponse(body, status_code=503)
        body = {"status": "Ok", "database": "Ok", "version": __version__, "quota": quota}
        return JSONResponse(body)

    async def lbheartbeat(request: Request) -> Response:
        return JSONResponse({})

    async def version_info(request: Request) -> Response:
        return JSONResponse(
            {
                "source": "syncstorage",
                "version": __version__,
                "commit": commit or await run_in_threadpool(_checkout_commit),
                "build": "unknown",
            }
        )

    return [
        Route("/__heartbeat__", heartbeat, methods=["GET"]),
        Route("/__lbheartbeat__", lbheartbeat, methods=["GET"]),
        Route("/__version__", version_info, methods=["GET"]),
        *landing_routes(settings, database_check, nonce_store_check, sign_in),
    ]


# What a store's ping raises when the store is away or busy: expected, and
# logged as the request's one-line reason, not as a bug.
_EXPECTED = (ConflictError, UnavailableError, NonceStoreUnavailable)


class SharedCheck:
    """A store's `ping` for the heartbeat and the landing page, at most one at
    a time: checks that arrive while one runs wait for that one. A frozen
    database holds the ping's thread until database_timeout; without this,
    each heartbeat would hold one more of the shared worker threads."""

    def __init__(self, name: str, ping: Callable[[], None]) -> None:
        self.name = name
        self._ping = ping
        self._running: asyncio.Future | None = None

    async def problem(self) -> str | None:
        """None when the store answered in time, else why not (for the
        request line: a store that is away is expected, not a bug)."""
        if self._running is None or self._running.done():
            self._running = asyncio.ensure_future(run_in_threadpool(self._ping))
            self._running.add_done_callback(self._log_bug)
        try:
            await asyncio.wait_for(asyncio.shield(self._running), DATABASE_CHECK_WAIT)
        except TimeoutError:
            return f"{self.name} unavailable: no answer within {DATABASE_CHECK_WAIT} s"
        except _EXPECTED as exc:
            return one_line(f"{self.name} unavailable", exc)
        except Exception:  # noqa: BLE001 - logged once, with its traceback, by _log_bug
            return f"{self.name} check failed"
        return None

    def _log_bug(self, ping: asyncio.Future) -> None:
        """A traceback, once per failed check, for what is not an expected
        refusal: that is a bug."""
        if ping.cancelled():
            return
        exc = ping.exception()
        if exc is not None and not isinstance(exc, _EXPECTED):
            log.error("%s check failed", self.name, exc_info=exc)


@functools.cache  # asked once per process, never per request
def _checkout_commit() -> str:
    """The commit of the git checkout the server runs from, or "unknown"
    (an installed package; set SYNCSTORAGE_COMMIT when building it)."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return done.stdout.strip() if done.returncode == 0 else "unknown"
