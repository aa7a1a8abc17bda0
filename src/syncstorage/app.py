"""`create_app(settings)`: the ASGI application uvicorn serves.

Layers, outermost first: CORS (answers preflights before anything else,
storage-api §15.2), removal of the public_url prefix (§1.1), then Starlette's
router with the storage API (everything below /1.5/, routed on the raw path
by `web.api`), the ops endpoints and the tokenserver (`GET /1.0/sync/1.5`).
`storage_enabled` / `tokenserver_enabled` turn either half off for
multi-node set-ups (auth-and-tokens §13.1).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from syncstorage import metrics
from syncstorage.auth import HawkAuthenticator, make_nonce_store
from syncstorage.background_purge import BackgroundPurge
from syncstorage.metrics.exposition import metrics_lifespan, metrics_routes
from syncstorage.metrics.middleware import MetricsMiddleware
from syncstorage.requestlog import RequestLogMiddleware
from syncstorage.settings import Settings
from syncstorage.storage import Storage
from syncstorage.tokenserver import Tokenserver
from syncstorage.web.api import StorageAPIRoute
from syncstorage.web.context import Context
from syncstorage.web.cors import CORSMiddleware
from syncstorage.web.ops import ops_routes
from syncstorage.web.prefix import PrefixMiddleware, public_url_prefix


def create_app(settings: Settings, *, storage: Storage | None = None) -> Starlette:
    metrics.configure(settings)
    if storage is None:
        from syncstorage.storage.sql import SQLStorage

        storage = SQLStorage(settings.effective_database_url, **settings.storage_layout)
    authenticator = HawkAuthenticator.from_settings(
        settings, make_nonce_store(settings.nonce_store_url)
    )
    routes: list[BaseRoute] = [*ops_routes(settings, storage), *metrics_routes(settings)]
    if settings.storage_enabled:
        routes.insert(0, StorageAPIRoute(Context(settings, storage), authenticator))
    tokenserver = Tokenserver(settings) if settings.tokenserver_enabled else None
    purger = BackgroundPurge(storage, settings.purge_interval) if settings.purge_interval else None
    if tokenserver is not None:
        routes.extend(tokenserver.routes)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if tokenserver is not None:
            # This process's own public_url becomes a node only if it serves storage.
            tokenserver.start(register_own_node=settings.storage_enabled)
        if purger is not None:
            purger.start()
        with metrics_lifespan(settings):
            yield
        if purger is not None:
            await purger.stop()
        if tokenserver is not None:
            tokenserver.close()
        storage.close()

    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(RequestLogMiddleware, master_secrets=settings.master_secret),
            Middleware(CORSMiddleware, allowed_origin=settings.cors_allowed_origin),
            Middleware(PrefixMiddleware, prefix=public_url_prefix(settings.effective_public_url)),
            # innermost: it reads the route the router writes into the scope
            *([Middleware(MetricsMiddleware)] if metrics.enabled() else []),
        ],
        exception_handlers={404: _legacy_error, 405: _legacy_error, 500: _legacy_error},
        lifespan=lifespan,
    )
    app.router.redirect_slashes = False  # an unknown path is a 404, not a redirect
    return app


async def _legacy_error(request: Request, exc: Exception) -> Response:
    """Outside /1.5/ too, errors are a bare `0` in JSON (storage-api §1.3)."""
    status = getattr(exc, "status_code", 500)
    return Response(b"0", status_code=status, media_type="application/json")
