"""Schema management with the shipped Alembic migrations."""

from __future__ import annotations

import sqlalchemy as sa

from support.schema import migrated_schema_diff
from support.storage import read, write
from syncstorage.storage import BSOUpdate
from syncstorage.storage.sql import SQLStorage, migrate
from syncstorage.storage.sql.schema import StorageTables


def test_fresh_database_is_migrated_to_head(database_url):
    assert migrate.current_revision(database_url) is None
    assert not migrate.is_current(database_url)
    migrate.upgrade(database_url)
    assert migrate.current_revision(database_url) == migrate.head_revision()
    assert migrate.is_current(database_url)
    migrate.upgrade(database_url)  # a second run changes nothing
    storage = SQLStorage(database_url)
    try:
        now = write(storage, 1, "bookmarks", lambda s: s.set_items([BSOUpdate("a")]))
        assert read(storage, 1, None, lambda s: s.storage_timestamp()) == now
    finally:
        storage.close()


def test_migrated_schema_matches_the_query_tables(storage_url, layout):
    """schema.py (what the queries use) and the revisions (what creates the
    tables) must describe the same columns, types, keys and indexes."""
    tables = StorageTables(**layout)
    # tables that are not storage's (alembic's, the tokenserver's) are not compared here
    assert migrated_schema_diff(storage_url, tables.metadata) == []
    engine = migrate.migration_engine(storage_url)
    try:
        with engine.connect() as conn:
            names = set(sa.inspect(conn).get_table_names())
    finally:
        engine.dispose()
    assert {t.name for t in tables.bso_tables} <= names
    if layout:
        assert {"bso0", "bso1", "bso2", "batch_upload_items2"} <= names and "bso" not in names


def test_new_sqlite_file_is_private(tmp_path):
    path = tmp_path / "new.db"
    migrate.upgrade(f"sqlite:///{path}")
    assert path.stat().st_mode & 0o077 == 0
