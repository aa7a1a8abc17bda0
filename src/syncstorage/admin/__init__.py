"""The admin page (issue 16): users, accounts (with accounts_enabled), nodes,
activity and operations for the operator, in a browser. Off unless `admin_token` is set; served at
`admin_path` below the public URL's path.

`AdminPage` is what app.py mounts: its routes, the layer that counts
requests for the Activity page, and the start and stop of that counter.
"""

from __future__ import annotations

from starlette.routing import Route
from starlette.types import ASGIApp

from syncstorage.account_removal import AccountRemoval
from syncstorage.admin.activity import ActivityCounter, CountingMiddleware
from syncstorage.admin.context import AdminContext, PurgeNow
from syncstorage.admin.page import Layout
from syncstorage.admin.routes import AdminRoutes
from syncstorage.settings import Settings
from syncstorage.storage.sql import SQLStorage
from syncstorage.timestamps import Clock
from syncstorage.tokenserver.db import make_engine
from syncstorage.web.prefix import public_url_prefix


class AdminPage:
    def __init__(
        self, settings: Settings, storage: SQLStorage, purge_now: PurgeNow, clock: Clock,
        removal: AccountRemoval | None = None,
    ) -> None:
        """`removal`: with accounts_enabled, how an account goes with its data (app.py)."""
        public_url = settings.effective_public_url
        self.counter = ActivityCounter(storage, clock)
        self.tokenserver = make_engine(
            settings.effective_tokenserver_database_url, database_timeout=settings.database_timeout
        )
        self.context = AdminContext(
            settings=settings,
            storage=storage,
            tokenserver=self.tokenserver,
            layout=Layout(public_url_prefix(public_url) + settings.admin_path, accounts=removal is not None),
            purge_now=purge_now,
            activity=self.counter,
            removal=removal,
        )
        self.routes: list[Route] = AdminRoutes(self.context, secure_cookies=public_url.startswith("https://")).routes()

    def counting(self, app: ASGIApp) -> ASGIApp:
        return CountingMiddleware(app, self.counter)

    def start(self) -> None:
        self.counter.start()

    async def stop(self) -> None:
        await self.counter.stop()
        self.tokenserver.dispose()
