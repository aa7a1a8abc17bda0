"""Alembic environment: run by `syncstorage.storage.sql.migrate`, never by
the `alembic` command (there is no alembic.ini; the URL and the sharding
layout come from `config.attributes`)."""

from __future__ import annotations

from alembic import context

from syncstorage.storage.sql.migrate import migration_engine

config = context.config

engine = migration_engine(config.attributes["url"])
try:
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=None)
        with context.begin_transaction():
            context.run_migrations()
finally:
    engine.dispose()
