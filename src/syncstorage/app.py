"""`create_app(settings)`: the ASGI application uvicorn serves.

Layers, outermost first: the request log, CORS (answers preflights before
anything else, storage-api §15.2), removal of the public_url prefix (§1.1),
metrics when enabled, the admin page's request counter when it is on;
then every request below /1.5/ goes straight to the
storage API (`web.api.StorageAPI`, routed on the raw path), and everything
else to a Starlette app with the ops endpoints, the metrics page, the
tokenserver (`GET /1.0/sync/1.5`) and the admin page (syncstorage.admin,
when `admin_token` is set). Sync traffic thus skips Starlette's
router and exception middlewares, which it does not need (the storage API
answers every error itself). `storage_enabled` / `tokenserver_enabled`
turn either half off for multi-node set-ups (auth-and-tokens §13.1).

With `accounts_enabled`, the built-in accounts server's routes join the
Starlette app, and the tokenserver checks that server's tokens in process
through `_builtin_accounts_verifier` (the two packages do not import each
other; this module joins them). An account that deletes itself loses its
synced data too: `_delete_synced_data` (syncstorage/account_removal.py),
which the admin page and `syncstorage account delete` use as well.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from syncstorage import metrics
from syncstorage.account_removal import AccountRemoval, StoredDataLeft
from syncstorage.accounts import AccountsServer, InvalidAccessToken
from syncstorage.admin import AdminPage
from syncstorage.auth import HawkAuthenticator, make_nonce_store
from syncstorage.background_purge import BackgroundPurge
from syncstorage.metrics.exposition import metrics_lifespan, metrics_routes
from syncstorage.metrics.middleware import MetricsMiddleware
from syncstorage.requestlog import RequestLogMiddleware
from syncstorage.settings import Settings
from syncstorage.storage.sql import SQLStorage
from syncstorage.timestamps import WALL_CLOCK, Clock
from syncstorage.tokenserver import AccountsUnavailable, InvalidToken, LocalToken, Tokenserver
from syncstorage.tokenserver.db import make_engine
from syncstorage.web.api import StorageAPI, is_storage_api
from syncstorage.web.context import Context
from syncstorage.web.cors import CORSMiddleware
from syncstorage.web.ops import ops_routes
from syncstorage.web.prefix import PrefixMiddleware, public_url_prefix

log = logging.getLogger(__name__)


def create_app(settings: Settings, *, clock: Clock = WALL_CLOCK) -> ASGIApp:
    """`clock`: the time of storage and authentication (tests advance one
    instead of sleeping)."""
    metrics.configure(settings)
    storage = SQLStorage(
        settings.effective_database_url,
        **settings.storage_layout,
        database_timeout=settings.database_timeout,
        lock_timeout=settings.lock_timeout,
        clock=clock,
        allow_migration=settings.allow_migration,
    )
    nonce_store = make_nonce_store(settings.nonce_store_url)
    authenticator = HawkAuthenticator.from_settings(settings, nonce_store, clock)
    removal = (
        AccountRemoval(
            make_engine(settings.effective_tokenserver_database_url, database_timeout=settings.database_timeout),
            storage,
            settings.fxa_email_domain,
        )
        if settings.accounts_enabled
        else None
    )
    accounts = (
        AccountsServer(settings, clock=clock, account_deleted=_delete_synced_data(removal))
        if removal is not None
        else None
    )
    sign_in = accounts.sign_in_page if accounts is not None else None
    routes = [*ops_routes(settings, storage, nonce_store, sign_in), *metrics_routes(settings)]
    tokenserver = (
        Tokenserver(settings, local_verifier=_builtin_accounts_verifier(accounts) if accounts else None)
        if settings.tokenserver_enabled
        else None
    )
    if accounts is not None:
        routes.extend(accounts.routes)
    # the purge of `purge_interval`, and of the admin page's "Purge now"
    purger = BackgroundPurge(storage, settings.purge_interval)
    if tokenserver is not None:
        routes.extend(tokenserver.routes)
    admin = AdminPage(settings, storage, purger.run_once, clock, removal) if settings.admin_token else None
    if admin is not None:
        routes.extend(admin.routes)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if tokenserver is not None:
            # This process's own public_url becomes a node only if it serves storage.
            tokenserver.start(register_own_node=settings.storage_enabled)
        if accounts is not None:
            accounts.start()
        if settings.purge_interval:
            purger.start()
        if admin is not None:
            admin.start()
        with metrics_lifespan(settings):
            yield
        await purger.stop()
        if admin is not None:
            await admin.stop()
        if tokenserver is not None:
            tokenserver.close()
        if accounts is not None:
            accounts.close()
        if removal is not None:
            removal.database.dispose()
        storage.close()

    others = Starlette(
        routes=routes,
        exception_handlers={404: _legacy_error, 405: _legacy_error, 500: _legacy_error},
        lifespan=lifespan,  # uvicorn's lifespan events reach it through the layers below
    )
    others.router.redirect_slashes = False  # an unknown path is a 404, not a redirect
    app: ASGIApp = others
    if settings.storage_enabled:
        app = _StorageAPIFirst(StorageAPI(Context(settings, storage), authenticator), others)
    if admin is not None:
        app = admin.counting(app)  # requests and syncs per hour for its Activity page
    if metrics.enabled():
        # inside the prefix layer: it reads the route the storage API or
        # Starlette's router writes into the scope that layer passes on
        app = MetricsMiddleware(app)
    app = PrefixMiddleware(app, prefix=public_url_prefix(settings.effective_public_url))
    app = CORSMiddleware(app, allowed_origin=settings.cors_allowed_origin)
    return RequestLogMiddleware(app, master_secrets=settings.master_secret)


def _builtin_accounts_verifier(accounts: AccountsServer):
    """The tokenserver's in-process check of the built-in accounts' tokens,
    in the tokenserver's terms."""

    def verify(bearer: str) -> LocalToken | None:
        try:
            claims = accounts.verify_access_token(bearer)
        except InvalidAccessToken as exc:
            raise InvalidToken(f"built-in accounts: {exc}") from None
        except sa.exc.SQLAlchemyError as exc:
            raise AccountsUnavailable(f"built-in accounts database: {type(exc).__name__}") from None
        if claims is None:
            return None
        return LocalToken(claims.uid, claims.scopes, claims.generation)

    return verify


def _delete_synced_data(removal: AccountRemoval):
    """What goes with an account that deleted itself: its stored data and
    tokenserver records. The account is gone already and its page told the
    user so; what could not be deleted is one log line for the operator."""

    def delete(uid: str) -> None:
        try:
            storage_uids = removal.delete_synced_data(uid)
        except StoredDataLeft as exc:
            log.warning("%s", exc)
        except sa.exc.SQLAlchemyError as exc:
            log.warning("account %s deleted, but not its synced data (tokenserver database: %s): "
                        "run `syncstorage user delete %s` to finish", uid, type(exc).__name__, uid)
        else:
            log.info("account %s deleted itself: the stored data of %d storage uids went with it", uid, len(storage_uids))

    return delete


class _StorageAPIFirst:
    """Requests below /1.5/ to the storage API, the rest (lifespan included)
    to the Starlette app."""

    def __init__(self, api: StorageAPI, others: ASGIApp) -> None:
        self.api = api
        self.others = others

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if is_storage_api(scope):
            await self.api(scope, receive, send)
        else:
            await self.others(scope, receive, send)


async def _legacy_error(request: Request, exc: Exception) -> Response:
    """Outside /1.5/ too, errors are a bare `0` in JSON (storage-api §1.3)."""
    status = getattr(exc, "status_code", 500)
    return Response(b"0", status_code=status, media_type="application/json")
