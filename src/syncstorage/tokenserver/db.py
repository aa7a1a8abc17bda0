"""The tokenserver's database connection (auth-and-tokens §8); its statements are in store.py.

Every request runs in one short transaction of its own (`engine.begin()`);
nodes and users are never cached because operators edit them with SQL while
the server runs. Only the service id and pattern are read once, at start-up
(`store.ensure_service`).
"""

from __future__ import annotations

import sqlalchemy as sa

from syncstorage import db
from syncstorage.db import StorageError

# for the command-line tools; the server passes its settings' lock_timeout
LOCK_TIMEOUT_SECONDS = 10.0
POOL_SIZE = 5


def make_engine(
    url: str, *, lock_timeout: float = LOCK_TIMEOUT_SECONDS, database_timeout: float | None = None
) -> sa.Engine:
    """An engine with the storage backend's per-database settings (driver
    choice for plain URLs, SQLite WAL and busy timeout, MySQL READ COMMITTED,
    lock timeouts), whose every transaction is a writer.

    Token requests read then write; on SQLite a deferred transaction that
    upgrades to a writer can fail at once when another one does the same, so
    each takes the write lock up front (BEGIN IMMEDIATE) and requests queue.

    `database_timeout`: the server's setting, which bounds every wait for
    the database as for storage; None (the command-line tools) bounds only
    connecting and the pool (`Dialect.database_timeout`).
    """
    _dialect, engine = db.create_engine(
        url,
        lock_timeout=lock_timeout,
        database_timeout=database_timeout,
        pool_size=POOL_SIZE,
        writes_only=True,
    )
    return engine


def expected_error(engine: sa.Engine, exc: sa.exc.SQLAlchemyError) -> StorageError | None:
    """The database's own failures (away, locked, full: storage-model §5.4)
    as the storage's ConflictError / UnavailableError; None for the rest,
    which are bugs."""
    dialect, _ = db.for_url(engine.url, lock_timeout=LOCK_TIMEOUT_SECONDS)
    return dialect.expected_error(exc)
