"""`db.create_engine`, the one engine factory of storage, the tokenserver
and the migrations (issue 11): the pool each gets, and which engines make
every transaction a writer."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from syncstorage import db
from syncstorage.storage.sql import SQLStorage, migrate
from syncstorage.tokenserver.db import make_engine


def test_storage_pools_and_leaves_writes_to_each_session(tmp_path):
    storage = SQLStorage(f"sqlite:///{tmp_path}/s.db", pool_size=3)
    try:
        assert isinstance(storage.engine.pool, sa.pool.QueuePool)
        assert storage.engine.pool.size() == 3
        assert db.WRITE_OPTION not in storage.engine.get_execution_options()
    finally:
        storage.close()


def test_tokenserver_and_migrations_write_in_every_transaction(tmp_path):
    url = f"sqlite:///{tmp_path}/t.db"
    tokenserver, migrations = make_engine(url), migrate.migration_engine(url)
    try:
        assert isinstance(tokenserver.pool, sa.pool.QueuePool)
        assert isinstance(migrations.pool, sa.pool.NullPool)  # one run, no pool
        for engine in (tokenserver, migrations):
            assert engine.get_execution_options()[db.WRITE_OPTION] is True
            with engine.begin() as conn:  # BEGIN IMMEDIATE: the write lock is ours
                assert conn.connection.dbapi_connection.in_transaction
                with sa.create_engine(url).connect() as other:
                    other.exec_driver_sql("PRAGMA busy_timeout=0")
                    with pytest.raises(sa.exc.OperationalError, match="locked"):
                        other.exec_driver_sql("BEGIN IMMEDIATE")
    finally:
        tokenserver.dispose()
        migrations.dispose()
