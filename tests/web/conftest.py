"""HTTP test harness: the real app, a real SQL database, real Hawk signing.

`make_client(database_url, **settings)` (tests/conftest.py, shared with the
admin page's tests) builds the app with `create_app` on
the test's `clock`, enters its lifespan and returns a `SyncClient` whose
requests are signed with a tokenlib token minted from the settings' master
secret, exactly as a Firefox client signs them after talking to the
tokenserver.
"""

from __future__ import annotations

import pytest
from support.web import SyncClient


@pytest.fixture
def client(make_client, sqlite_url) -> SyncClient:
    """A client of a server on SQLite (for tests about the HTTP layer)."""
    return make_client(sqlite_url)


@pytest.fixture
def db_client(make_client, database_url) -> SyncClient:
    """A client of a server on each database in turn."""
    return make_client(database_url)
