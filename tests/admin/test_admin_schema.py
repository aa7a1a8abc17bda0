"""The admin page's tables: migration 0005 creates exactly admin/schema.py
on every database (as tests/tokenserver/test_schema.py does for its own)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from syncstorage.admin.schema import metadata
from syncstorage.storage.sql import migrate


def test_migration_matches_schema(database_url):
    migrate.upgrade(database_url)
    engine = migrate.migration_engine(database_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, metadata)
    finally:
        engine.dispose()
    # the other tables (storage's, the tokenserver's) are compared elsewhere
    ours = set(metadata.tables)
    assert [d for d in diff if not (d[0] in ("remove_table", "remove_index") and _name(d[1]) not in ours)] == []


def _name(thing) -> str:
    return thing.name if hasattr(thing, "columns") else thing.table.name
