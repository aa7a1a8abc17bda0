"""`AccountsServer(settings)`: the built-in accounts server as one object,
built by `syncstorage.app.create_app` when `accounts_enabled` is on.

Its `routes` sit beside the tokenserver's under the public_url prefix;
`verify_access_token` lets the tokenserver check this server's tokens in
process (app.py wires it, so neither package imports the other).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from syncstorage import db
from syncstorage.accounts import access_tokens, account, confirm, devices, discovery, oauth, profile, signing
from syncstorage.accounts.context import AccountsContext
from syncstorage.accounts.mail import Mailer
from syncstorage.accounts.pages import page_routes
from syncstorage.auth.nonces import make_nonce_store
from syncstorage.settings import Settings
from syncstorage.timestamps import WALL_CLOCK, Clock

log = logging.getLogger(__name__)

POOL_SIZE = 5


class AccountsServer:
    def __init__(
        self, settings: Settings, *, clock: Clock = WALL_CLOCK, account_deleted: Callable[[str], None] | None = None
    ) -> None:
        """`account_deleted(uid)`: what else goes when an account deletes
        itself from its settings page (app.py: its storage data and
        tokenserver records, syncstorage/account_removal.py)."""
        self.dialect, self.engine = db.create_engine(
            settings.effective_tokenserver_database_url,
            lock_timeout=settings.conflict_retry_seconds,
            database_timeout=settings.database_timeout,
            pool_size=POOL_SIZE,
            writes_only=True,
        )
        # A database error's message would otherwise quote the statement's
        # parameters (token keys, verifiers) into the log.
        self.engine.hide_parameters = True
        keys, created = signing.load_or_create(settings.data_dir)
        if created:
            log.info("generated the accounts signing key %s in %s", keys[-1].kid, settings.data_dir / signing.FILE_NAME)
        self._pages = [route for route in page_routes() if isinstance(route, Route)]
        self.context = AccountsContext(
            settings,
            self.engine,
            make_nonce_store(settings.nonce_store_url),
            keys,
            clock,
            is_unavailable=lambda exc: self.dialect.expected_error(exc) is not None,
            account_deleted=account_deleted,
            mailer=Mailer(settings) if settings.smtp_host else None,
        )

    @property
    def routes(self) -> list[Route]:
        ctx = self.context
        return [
            *discovery.routes(ctx),
            *account.routes(ctx),
            *confirm.routes(ctx),
            *oauth.routes(ctx),
            *devices.routes(ctx),
            *profile.routes(ctx),
            # "/" is the landing page's too: it hands Firefox's requests to
            # `sign_in_page` (app.py)
            *[route for route in self._pages if route.path != "/"],
        ]

    @property
    def sign_in_page(self) -> Callable[[Request], Awaitable[Response]]:
        """The page Firefox opens at the root with its query (spec §2.4)."""
        return next(route.endpoint for route in self._pages if route.path == "/")

    def start(self) -> None:
        """At server start-up: forget what expired while it was down."""
        try:
            self.context.purge_if_due()
        except sa.exc.SQLAlchemyError:
            log.exception("accounts: cannot purge expired tokens at start-up")

    def close(self) -> None:
        if self.context.mailer is not None:
            self.context.mailer.close()
        self.engine.dispose()

    def verify_access_token(self, bearer: str) -> access_tokens.AccessClaims | None:
        """The claims of one of this server's access tokens; None when the
        bearer value is not one (another accounts server's, for instance);
        InvalidAccessToken when it is one but no longer valid."""
        key = access_tokens.ours(self.context.keys, bearer)
        if key is None:
            return None
        with self.engine.begin() as conn:
            return access_tokens.verify(conn, key, bearer, self.context.clock.time())
