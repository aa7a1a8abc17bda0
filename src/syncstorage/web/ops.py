"""Operational endpoints (storage-api §15.1): no auth, no X-Weave-Timestamp.

Served at the bare root and, through the prefix middleware, below the prefix.
"""

from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from syncstorage import __version__
from syncstorage.settings import Settings
from syncstorage.storage import Storage

log = logging.getLogger(__name__)


def ops_routes(settings: Settings, storage: Storage) -> list[Route]:
    quota = {"enabled": settings.quota_enabled, "size": settings.max_quota_limit}
    version = {"source": "syncstorage", "version": __version__, "commit": "unknown", "build": "unknown"}

    async def heartbeat(request: Request) -> Response:
        try:
            await run_in_threadpool(storage.ping)
        except Exception:
            log.warning("heartbeat: database check failed", exc_info=True)
            body = {"status": "Err", "database": "Err", "version": __version__, "quota": quota}
            return JSONResponse(body, status_code=503)
        body = {"status": "Ok", "database": "Ok", "version": __version__, "quota": quota}
        return JSONResponse(body)

    async def lbheartbeat(request: Request) -> Response:
        return JSONResponse({})

    async def version_info(request: Request) -> Response:
        return JSONResponse(version)

    return [
        Route("/__heartbeat__", heartbeat, methods=["GET"]),
        Route("/__lbheartbeat__", lbheartbeat, methods=["GET"]),
        Route("/__version__", version_info, methods=["GET"]),
    ]
