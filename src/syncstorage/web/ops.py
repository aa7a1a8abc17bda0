"""Operational endpoints (storage-api §15.1): no auth, no X-Weave-Timestamp.

Served at the bare root and, through the prefix middleware, below the prefix.
"""

from __future__ import annotations

import functools
import logging
import subprocess
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from syncstorage import __version__
from syncstorage.logs import one_line
from syncstorage.settings import Settings
from syncstorage.storage import ConflictError, Storage, UnavailableError

log = logging.getLogger(__name__)


def ops_routes(settings: Settings, storage: Storage) -> list[Route]:
    quota = {"enabled": settings.quota_enabled, "size": settings.max_quota_limit}
    commit = settings.commit

    async def heartbeat(request: Request) -> Response:
        try:
            await run_in_threadpool(storage.ping)
        except Exception as exc:
            if isinstance(exc, (ConflictError, UnavailableError)):  # the request line says why
                request.state.reason = one_line("database unavailable", exc)
            else:
                log.exception("heartbeat: database check failed")  # a bug
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
