"""The tokenserver: `GET /1.0/sync/1.5` trades a Firefox Accounts OAuth token
for a storage token and node (auth-and-tokens §6-§13).

Entry points:
- `Tokenserver(settings)`: its `routes` go under the public_url prefix of the
  combined server, whose start-up calls `start(register_own_node=...)` and
  whose shutdown calls `close()`.
- `tokenserver_app(settings)`: the tokenserver alone, for multi-node set-ups
  (`storage_enabled = false` elsewhere); it registers no node of its own.
"""

from __future__ import annotations

import contextlib
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount

from syncstorage.settings import Settings
from syncstorage.tokenserver.service import Tokenserver

__all__ = ["Tokenserver", "tokenserver_app", "with_prefix"]


def with_prefix(routes: list[BaseRoute], public_url: str) -> list[BaseRoute]:
    """The routes at `/` and, when public_url has a path, under it too, so the
    server works whether or not a reverse proxy strips the prefix."""
    prefix = urlsplit(public_url).path.rstrip("/")
    return [Mount(prefix, routes=routes), *routes] if prefix else list(routes)


def tokenserver_app(settings: Settings, master_secrets: list[str] | None = None) -> Starlette:
    tokenserver = Tokenserver(settings, master_secrets)

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        tokenserver.start(register_own_node=False)
        yield
        tokenserver.close()

    app = Starlette(routes=with_prefix(tokenserver.routes, settings.effective_public_url), lifespan=lifespan)
    app.state.tokenserver = tokenserver
    return app
