"""Leases: a named right that at most one process holds, kept as a row in
the database with an expiry (`Dialect.try_lock` of the server databases).

A session lock (PostgreSQL's advisory lock, MySQL's GET_LOCK) holds only on
the server that granted it: on a Galera cluster two processes on two nodes
both got GET_LOCK and both migrated or purged. A row holds on every node:
two nodes that insert or update the same row conflict when they commit,
and the loser's error (a deadlock, a certification failure) means "not
taken". The price: a holder that dies leaves its row, which stops counting
at its expiry instead of at once.

The table is made on first use (when a take finds it missing) with CREATE
TABLE IF NOT EXISTS, not by the Alembic migrations, because the migrations themselves run under a lease.
Expiries are this machine's clock in ms; servers whose clocks differ by
seconds are fine, as leases last minutes.
"""

from __future__ import annotations

import secrets
import time

from typing import TYPE_CHECKING

import sqlalchemy as sa

from .dialect import HeldLock
from .errors import ConflictError

if TYPE_CHECKING:
    from .dialect import Dialect

LEASES = sa.Table(
    "syncstorage_leases",
    sa.MetaData(),
    sa.Column("name", sa.String(64), primary_key=True),  # a primary key: Galera needs one
    sa.Column("holder", sa.String(32), nullable=False),
    sa.Column("expires_at", sa.BigInteger, nullable=False),  # epoch ms
)

_CREATE = sa.text(
    "CREATE TABLE IF NOT EXISTS syncstorage_leases ("
    " name VARCHAR(64) NOT NULL PRIMARY KEY,"
    " holder VARCHAR(32) NOT NULL,"
    " expires_at BIGINT NOT NULL)"
)


def take_lease(dialect: Dialect, engine: sa.Engine, name: str, seconds: float) -> HeldLock | None:
    """The lease `name` for `seconds`, or None when another holder's lease
    has not expired."""
    try:
        return _take(dialect, engine, name, seconds)
    except sa.exc.DBAPIError:
        # First use on this database (or another process made the table
        # between our statement and this check): make it, take once more.
        # Made only then, not before every take: on Galera even a CREATE ...
        # IF NOT EXISTS is DDL in the cluster's total order, and processes
        # polling for a lease queued theirs against the migration they were
        # waiting for (a `db upgrade` stalled for minutes).
        if not sa.inspect(engine).has_table(LEASES.name):
            _create_table(engine)
    return _take(dialect, engine, name, seconds)


def _take(dialect: Dialect, engine: sa.Engine, name: str, seconds: float) -> HeldLock | None:
    holder = secrets.token_hex(16)
    now = int(time.time() * 1000)
    expires_at = now + int(seconds * 1000)
    try:
        with engine.begin() as conn:
            # an expired lease is taken over; a live one is left alone
            taken = conn.execute(
                sa.update(LEASES)
                .where(LEASES.c.name == name, LEASES.c.expires_at <= now)
                .values(holder=holder, expires_at=expires_at)
            ).rowcount
            if not taken:
                insert = dialect.insert_ignore(LEASES).values(name=name, holder=holder, expires_at=expires_at)
                taken = conn.execute(insert).rowcount
    except sa.exc.DBAPIError as exc:
        # another process took or changed the row at the same moment: a
        # deadlock, a lock wait, a cluster's certification failure
        if isinstance(dialect.classify_driver_error(exc), ConflictError):
            return None
        raise
    return _Lease(engine, name, holder) if taken == 1 else None


def _create_table(engine: sa.Engine) -> None:
    try:
        with engine.begin() as conn:
            conn.execute(_CREATE)
    except (sa.exc.IntegrityError, sa.exc.ProgrammingError):
        pass  # PostgreSQL: another process created it at the same moment (pg_type's unique index)


class _Lease(HeldLock):
    def __init__(self, engine: sa.Engine, name: str, holder: str) -> None:
        self._engine, self._name, self._holder = engine, name, holder

    def release(self) -> None:
        # only our own: an expired lease may belong to another holder by now
        with self._engine.begin() as conn:
            conn.execute(sa.delete(LEASES).where(LEASES.c.name == self._name, LEASES.c.holder == self._holder))
