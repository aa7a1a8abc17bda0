"""The tokenserver's database connection and its start-up rows (auth-and-tokens §8, §13.1).

Every request runs in one short transaction of its own (`engine.begin()`);
nodes and users are never cached because operators edit them with SQL while
the server runs. Only the service id and pattern are read once, at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from syncstorage import db
from syncstorage.db import StorageError
from syncstorage.tokenserver.schema import SYNC_PATTERN, SYNC_SERVICE, nodes, services

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


@dataclass(frozen=True, slots=True)
class Service:
    id: int
    pattern: str


def ensure_service(engine: sa.Engine) -> Service:
    """The `sync-1.5` service row, inserted if absent (§8)."""
    query = sa.select(services.c.id, services.c.pattern).where(services.c.service == SYNC_SERVICE)
    with engine.begin() as conn:
        row = conn.execute(query).first()
        if row is None:
            try:
                with conn.begin_nested():
                    conn.execute(
                        sa.insert(services).values(service=SYNC_SERVICE, pattern=SYNC_PATTERN)
                    )
            except sa.exc.IntegrityError:
                pass  # another process inserted it first
            row = conn.execute(query).one()
    return Service(row.id, row.pattern or SYNC_PATTERN)


def ensure_node(engine: sa.Engine, service_id: int, node_url: str, capacity: int) -> bool:
    """Register `node_url` as a node with full capacity unless a row for it
    exists (§13.1). Returns whether a row was inserted."""
    if len(node_url) > 64:
        raise ValueError(f"node URL {node_url!r} is longer than the 64 characters nodes.node holds")
    exists = sa.select(nodes.c.id).where(nodes.c.service == service_id, nodes.c.node == node_url)
    with engine.begin() as conn:
        if conn.execute(exists).first() is not None:
            return False
        try:
            with conn.begin_nested():
                conn.execute(
                    sa.insert(nodes).values(
                        service=service_id,
                        node=node_url,
                        available=capacity,
                        current_load=0,
                        capacity=capacity,
                        downed=0,
                        backoff=0,
                    )
                )
        except sa.exc.IntegrityError:
            return False  # another process registered it first
    return True
