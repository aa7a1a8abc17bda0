"""Operational endpoints (storage-api §15.1): no auth, no X-Weave-Timestamp.

Served at the bare root and, through the prefix middleware, below the prefix.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import subprocess
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from syncstorage import __version__
from syncstorage.settings import Settings
from syncstorage.storage import Storage

log = logging.getLogger(__name__)


# How long a heartbeat waits for the database check: load balancers expect
# an answer within a second (0.5 s leaves room for a busy machine), and a
# database that takes longer to say SELECT 1 is not OK for them.
DATABASE_CHECK_WAIT = 0.5


def ops_routes(settings: Settings, storage: Storage) -> list[Route]:
    quota = {"enabled": settings.quota_enabled, "size": settings.max_quota_limit}
    commit = settings.commit
    database_check = _DatabaseCheck(storage)

    async def heartbeat(request: Request) -> Response:
        if not await database_check.ok():
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
    ]


class _DatabaseCheck:
    """`storage.ping` for the heartbeats, at most one at a time: heartbeats
    that arrive while one runs wait for that one. A frozen database holds
    the ping's thread until database_timeout; without this, each heartbeat
    would hold one more of the shared worker threads."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage
        self._running: asyncio.Task | None = None

    async def ok(self) -> bool:
        if self._running is None or self._running.done():
            self._running = asyncio.ensure_future(run_in_threadpool(self._storage.ping))
            self._running.add_done_callback(_log_failure)
        try:
            await asyncio.wait_for(asyncio.shield(self._running), DATABASE_CHECK_WAIT)
        except TimeoutError:
            return False
        except Exception:  # noqa: BLE001 - logged once by _log_failure
            return False
        return True


def _log_failure(ping: asyncio.Future) -> None:
    """One line per failed check (not per heartbeat that waited for it): a
    database that is away is expected, not a bug."""
    if not ping.cancelled() and ping.exception() is not None:
        reason = str(ping.exception()).strip().splitlines()[0]
        log.warning("heartbeat: database check failed: %s", reason)


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
