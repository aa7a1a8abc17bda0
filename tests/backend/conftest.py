"""Fixtures of the backend suite: a migrated database on every configured
backend, in the unsharded and the sharded layout (storage-model §3.6)."""

from __future__ import annotations

import time

import pytest

from syncstorage.storage import ConflictError
from syncstorage.storage.sql import SQLStorage, migrate

# a small shard count keeps table creation fast; users 1..3 hit different shards
LAYOUTS = {"unsharded": {}, "sharded": {"shard": True, "shardsize": 3}}


@pytest.fixture(params=list(LAYOUTS))
def layout(request) -> dict:
    return LAYOUTS[request.param]


@pytest.fixture
def storage(database_url, layout):
    migrate.upgrade(database_url, **layout)
    storage = SQLStorage(database_url, **layout)
    yield storage
    storage.close()


def write(storage, userid, collection, action, *, attempts=20):
    """Run `action(session)` in a write session, retrying the same-10-ms
    conflicts that back-to-back writes get (the HTTP layer retries too)."""
    for _ in range(attempts):
        try:
            with storage.session(userid, collection, write=True) as session:
                return action(session)
        except ConflictError:
            time.sleep(0.01)
    raise AssertionError("write kept conflicting")


def read(storage, userid, collection, action):
    with storage.session(userid, collection) as session:
        return action(session)
