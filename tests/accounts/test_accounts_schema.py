"""The accounts tables: migrations 0004, 0006 and 0008 create exactly accounts/schema.py
on every database."""

from __future__ import annotations

from support.schema import migrated_schema_diff
from syncstorage.accounts.schema import metadata
from syncstorage.storage.sql import migrate


def test_migration_matches_schema(database_url):
    migrate.upgrade(database_url)
    assert migrated_schema_diff(database_url, metadata) == []


def test_downgrade_removes_only_the_accounts_tables(database_url):
    import sqlalchemy as sa

    migrate.upgrade(database_url)
    migrate.upgrade(database_url, revision="0004_accounts")
    from alembic import command

    command.downgrade(migrate._config(database_url), "0003_bso_indexes")
    engine = migrate.migration_engine(database_url)
    try:
        with engine.connect() as conn:
            tables = set(sa.inspect(conn).get_table_names())
    finally:
        engine.dispose()
    assert not tables & set(metadata.tables)
    assert {"users", "bso", "nodes"} <= tables
