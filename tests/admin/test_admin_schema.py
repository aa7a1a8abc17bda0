"""The admin page's tables: migration 0005 creates exactly admin/schema.py
on every database (as tests/tokenserver/test_schema.py does for its own)."""

from __future__ import annotations

from support.schema import migrated_schema_diff
from syncstorage.admin.schema import metadata
from syncstorage.storage.sql import migrate


def test_migration_matches_schema(database_url):
    migrate.upgrade(database_url)
    # the other tables (storage's, the tokenserver's) are compared elsewhere
    assert migrated_schema_diff(database_url, metadata) == []
