"""HTTP test harness: the real app, a real SQL database, real Hawk signing.

`make_client(database_url, **settings)` builds the app with `create_app` on
the test's `clock`, enters its lifespan and returns a `SyncClient` whose
requests are signed with a tokenlib token minted from the settings' master
secret, exactly as a Firefox client signs them after talking to the
tokenserver.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.web import PUBLIC_URL, SECRET, SyncClient
from starlette.testclient import TestClient
from support.clock import AdvancingClock

from syncstorage.app import create_app
from syncstorage.settings import Settings
from syncstorage.storage.sql.migrate import upgrade

@pytest.fixture
def clock() -> AdvancingClock:
    """The clock of every server `make_client` builds in the test."""
    return AdvancingClock()


@pytest.fixture
def make_client(tmp_path, clock) -> Iterator:
    clients: list[TestClient] = []

    def make(database_url: str, uid: int = 1, *, migrate: bool = True, **overrides) -> SyncClient:
        overrides.setdefault("public_url", PUBLIC_URL)
        settings = Settings(
            master_secret=[SECRET], database_url=database_url, data_dir=tmp_path, **overrides
        )
        if migrate:
            upgrade(settings.effective_database_url)  # the CLI does this before serving
        http = TestClient(create_app(settings, clock=clock), base_url=settings.effective_public_url)
        http.__enter__()  # runs the lifespan; closed below
        clients.append(http)
        return SyncClient(http, settings, uid)

    yield make
    for http in clients:
        http.__exit__(None, None, None)


@pytest.fixture
def client(make_client, sqlite_url) -> SyncClient:
    """A client of a server on SQLite (for tests about the HTTP layer)."""
    return make_client(sqlite_url)


@pytest.fixture
def db_client(make_client, database_url) -> SyncClient:
    """A client of a server on each database in turn."""
    return make_client(database_url)
