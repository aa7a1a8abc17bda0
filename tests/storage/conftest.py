"""Fixtures of the storage tests: a migrated database on every configured
backend, in the unsharded and the sharded layout (storage-model §3.6).

Creating and migrating a database costs up to a second on MariaDB, so each
(backend, layout) pair is migrated once per test run and emptied before each
test; tests about creating the schema itself use `database_url` directly.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from support.databases import fresh_database_url
from syncstorage.storage.sql import SQLStorage, migrate
from syncstorage.storage.sql.moves import LOCK_ROW
from syncstorage.storage.sql.schema import FIRST_CUSTOM_COLLECTION_ID

# a small shard count keeps table creation fast; users 1..3 hit different shards
LAYOUTS = {"unsharded": {}, "sharded": {"shard": True, "shardsize": 3}}

_migrated: dict[tuple[str, str], str] = {}


@pytest.fixture(params=list(LAYOUTS))
def layout_name(request) -> str:
    return request.param


@pytest.fixture
def layout(layout_name) -> dict:
    return LAYOUTS[layout_name]


@pytest.fixture
def storage_url(backend_name, layout_name, tmp_path_factory) -> str:
    """A migrated database of this backend and layout, emptied of all rows
    but the seeded ones (collections, the migration table's lock row)."""
    key = (backend_name, layout_name)
    if key not in _migrated:
        url = fresh_database_url(backend_name, tmp_path_factory.mktemp("db"), f"_{layout_name}")
        migrate.upgrade(url, **LAYOUTS[layout_name])
        _migrated[key] = url
    url = _migrated[key]
    storage = SQLStorage(url, **LAYOUTS[layout_name])
    try:
        with storage.engine.begin() as conn:
            for table in storage.tables.metadata.sorted_tables:
                if table is storage.tables.collections:
                    conn.execute(
                        sa.delete(table).where(table.c.collectionid >= FIRST_CUSTOM_COLLECTION_ID)
                    )
                elif table is storage.tables.migration:  # keep the seeded lock row
                    conn.execute(sa.delete(table).where(table.c.fxa_uid != LOCK_ROW))
                else:
                    conn.execute(sa.delete(table))
    finally:
        storage.close()
    return url


@pytest.fixture
def storage(storage_url, layout):
    storage = SQLStorage(storage_url, **layout)
    yield storage
    storage.close()
