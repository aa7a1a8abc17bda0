"""PostgreSQL through psycopg 3: lock_timeout and statement_timeout per
connection, the watchdog for a server that stops answering, SQLSTATEs."""

from __future__ import annotations

import functools
import math

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import URL

from . import watchdog
from .dialect import (
    Dialect,
    HeldLock,
    on_conflict_insert_ignore,
    on_conflict_upsert,
)
from .errors import ConflictError, UnavailableError
from .leases import take_lease


class PostgresDialect(Dialect):
    name = "postgresql"
    default_driver = "psycopg"
    # plans a join or `id IN (...)` on bso by estimated row counts
    # (storage/sql/statements.py, "PostgreSQL")
    stable_key_plans = False

    # SQLSTATEs: lock_not_available, deadlock_detected, serialization_failure
    # what each conflict is, for the operator reading the request log
    CONFLICT_STATES = {"55P03": "lock wait timeout", "40P01": "deadlock", "40001": "serialization failure"}

    def engine_options(self, url: URL, *, pool_size: int) -> dict:
        options = super().engine_options(url, pool_size=pool_size)
        if "connect_timeout" not in url.query:
            # an unreachable or frozen host must fail fast (503), not hang a
            # worker; libpq counts the whole start-up, not just the TCP connect
            options["connect_args"] = {"connect_timeout": self.connect_timeout}
        return options

    def install(self, engine: sa.Engine) -> None:
        super().install(engine)
        lock_ms = int(self.lock_timeout * 1000)
        settings = [f"SET lock_timeout = {lock_ms}"]
        if self.database_timeout is not None:
            # The server cancels a statement that runs too long itself
            # (57014), a little before the client-side deadline below, so
            # the connection stays usable; that deadline is for a server
            # that cannot even do this.
            statement_ms = math.ceil(self.database_timeout * 900)
            settings.append(f"SET statement_timeout = {statement_ms}")
            connection_class = _psycopg_with_deadline(self.database_timeout)

            @sa.event.listens_for(engine, "do_connect")
            def _connect(_dialect, _record, cargs, cparams):
                return connection_class.connect(*cargs, **cparams)

        @sa.event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection, _record):
            # Without lock_timeout a writer queued behind a stuck transaction
            # would wait forever; this turns the wait into 55P03 = conflict.
            autocommit = dbapi_connection.autocommit
            dbapi_connection.autocommit = True
            cursor = dbapi_connection.cursor()
            for statement in settings:
                cursor.execute(statement)
            cursor.close()
            dbapi_connection.autocommit = autocommit

    def lock(self, select, write):
        return select.with_for_update(read=not write)  # FOR UPDATE / FOR SHARE

    def try_lock(self, engine: sa.Engine, name: str, seconds: float) -> HeldLock | None:
        # a row rather than an advisory lock, which would hold on one server
        # of a multi-primary setup only (db/leases.py)
        return take_lease(self, engine, name, seconds)

    def insert(self, table: sa.Table) -> postgresql.Insert:
        return postgresql.insert(table)

    def insert_ignore(self, table: sa.Table) -> sa.Insert:
        return on_conflict_insert_ignore(self.insert(table))

    def upsert(self, insert, keys, set_):
        return on_conflict_upsert(insert, keys, set_)

    def sortindex_desc(self, column):
        return column.desc().nulls_last()

    def bounded_delete(self, table, where, limit):
        ctid = sa.literal_column("ctid")
        return sa.delete(table).where(
            ctid.in_(sa.select(ctid).select_from(table).where(where).limit(limit).scalar_subquery())
        )

    def reserve_ids(self, conn, table, column, above):
        # the sequence ignores explicitly inserted ids
        conn.execute(
            sa.text(f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), GREATEST(:n, (SELECT COALESCE(MAX({column}), 0) FROM {table}), 1))"),
            {"n": above},
        )

    def classify_driver_error(self, exc):
        state = getattr(exc.orig, "sqlstate", None)
        if state in self.CONFLICT_STATES:
            return ConflictError(f"{self.CONFLICT_STATES[state]}: {exc.orig}")
        # class 08 = connection exception, 57P0x = server shutting down or
        # our backend terminated, 57014 = cancelled by statement_timeout; no
        # SQLSTATE at all = never connected, or dropped (watchdog)
        if state is None or state.startswith("08") or state.startswith("57"):
            if isinstance(exc, (sa.exc.OperationalError, sa.exc.InterfaceError)):
                return UnavailableError(str(exc.orig))
        return None


@functools.cache
def _psycopg_with_deadline(seconds: float) -> type:
    """psycopg's Connection whose every wait for the server (a statement and
    its rows, COMMIT, ROLLBACK, the pool's health check) ends after
    `seconds`, by the watchdog: libpq has no read timeout, and
    `Connection.wait` is the one place psycopg waits on the socket once
    connected (connecting has connect_timeout)."""
    import psycopg

    class Connection(psycopg.Connection):
        def wait(self, gen, *args, **kwargs):
            with watchdog.watch(self.pgconn.socket, seconds) as watch:
                try:
                    return super().wait(gen, *args, **kwargs)
                except psycopg.Error:
                    if not watch.fired:
                        raise
                    raise psycopg.OperationalError(
                        f"no answer from the database within {seconds:g} s"
                    ) from TimeoutError()

    return Connection
