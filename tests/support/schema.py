"""Whether the migrations create exactly what a package's schema module
describes: the storage, tokenserver, accounts and admin tests each check
their own tables with this."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from syncstorage.storage.sql import migrate


def migrated_schema_diff(database_url: str, metadata: sa.MetaData) -> list:
    """Alembic's differences (columns, types, keys, indexes) between the
    migrated database and `metadata`, for `metadata`'s own tables only: the
    database also holds the other packages' tables (and Alembic's), which
    would show up as "remove"."""
    engine = migrate.migration_engine(database_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, metadata)
    finally:
        engine.dispose()
    return [d for d in diff if d[0] not in ("remove_table", "remove_index") or _table(d[1]) in metadata.tables]


def _table(thing) -> str:
    return (thing if isinstance(thing, sa.Table) else thing.table).name
