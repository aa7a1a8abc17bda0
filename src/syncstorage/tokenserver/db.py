"""The tokenserver's database connection and its start-up rows (auth-and-tokens §8, §13.1).

Every request runs in one short transaction of its own (`engine.begin()`);
nodes and users are never cached because operators edit them with SQL while
the server runs. Only the service id and pattern are read once, at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from syncstorage.tokenserver.schema import SYNC_PATTERN, SYNC_SERVICE, nodes, services

SQLITE_BUSY_TIMEOUT_SECONDS = 30


def _driver_url(url: str) -> sa.URL:
    # TODO(storage merge): use storage/sql/dialects.py's URL normalisation.
    parsed = make_url(url)
    drivers = {"postgresql": "postgresql+psycopg", "postgres": "postgresql+psycopg", "mysql": "mysql+pymysql", "mariadb": "mysql+pymysql"}
    return parsed.set(drivername=drivers.get(parsed.drivername, parsed.drivername))


def make_engine(url: str) -> sa.Engine:
    engine_url = _driver_url(url)
    if engine_url.get_backend_name() != "sqlite":
        return sa.create_engine(engine_url, pool_pre_ping=True)
    engine = sa.create_engine(
        engine_url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS}
    )

    # Token requests read then write; a deferred SQLite transaction that
    # upgrades to a writer can fail at once with "database is locked" when
    # another one does the same. BEGIN IMMEDIATE takes the write lock up front
    # (waiting up to the busy timeout), so concurrent requests queue instead.
    @sa.event.listens_for(engine, "connect")
    def _no_implicit_transactions(dbapi_connection, _record):
        dbapi_connection.isolation_level = None

    @sa.event.listens_for(engine, "begin")
    def _begin_immediate(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


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
