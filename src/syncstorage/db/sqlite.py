"""SQLite: a file in this process. WAL, `synchronous=FULL`, our own BEGIN,
the writers' group commit (`sqlite_writes.py`) and an flock for the
one-process-at-a-time lock."""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import threading
from collections.abc import Callable
from typing import cast

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import URL

from . import compiled as compiled_statements
from . import sqlite_writes
from .dialect import (
    WRITE_OPTION,
    Dialect,
    HeldLock,
    Writers,
    on_conflict_insert_ignore,
    on_conflict_upsert,
)
from .errors import ConflictError, UnavailableError


class SQLiteDialect(Dialect):
    name = "sqlite"
    default_driver = "pysqlite"
    # in this process, and WAL readers never wait for writers (storage-model §10.1)
    reads_never_wait = True
    # 0.28 s to merge 5,000 staged items into 100,000 records (docs/performance.md)
    stable_key_plans = True

    def writers(
        self, engine: sa.Engine, *, max_tick_wait: float, clock: Callable[[], float]
    ) -> Writers:
        return _GroupWriters(engine, self, max_tick_wait, clock)

    def threads(self, pool_size: int) -> tuple[int, int]:
        # SQLite runs in this process: a read is CPU under the GIL (each call
        # releases and retakes it), so more reader threads add no throughput,
        # only GIL hand-offs (steady benchmark, 20 shared threads -> 4: p99
        # about 170 -> 80 ms, 10-20 % less CPU per request). Writers mostly
        # wait, for the turn or their group's COMMIT (sqlite_writes.py), and
        # the more of them queue, the larger the group: 4 -> 16 writer
        # threads, first sync upload +10-25 % (docs/performance.md). Writers
        # have threads of their own so reads never queue behind them.
        return min(4, pool_size), min(16, 2 * pool_size)

    def engine_options(self, url: URL, *, pool_size: int) -> dict:
        if url.database in (None, "", ":memory:") or url.database.startswith("file::memory:"):
            # every pooled connection would see its own empty database
            raise ValueError("SQLite needs a database file (sqlite:///path/to/file.db)")
        _create_private_file(url.database)
        # In this process, no socket: what SQLite waits for is the write
        # lock, bounded by lock_timeout (busy_timeout, the group commit's
        # turn). database_timeout bounds only the wait for a pooled connection.
        options = super().engine_options(url, pool_size=pool_size)
        del options["pool_pre_ping"]  # a file does not go away between requests
        return options

    def install(self, engine: sa.Engine) -> None:
        # no pool health check to bound (engine_options)
        busy_ms = int(self.lock_timeout * 1000)

        @sa.event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection, _record):
            # Take transaction control away from pysqlite: it would BEGIN
            # implicitly (and never for SELECTs); we emit our own BEGIN below,
            # so no transaction is ever left open between requests.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            # In WAL mode NORMAL may lose the last commits on power loss or an
            # OS crash; FULL syncs the WAL on every commit, so a request that
            # was answered 200 survives any crash (issue 2: no lost commit).
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
            cursor.close()

        @sa.event.listens_for(engine, "begin")
        def _on_begin(conn):
            # storage-model §5.2/§5.3: writers take the single write lock up
            # front (so two writers never deadlock upgrading), readers get a
            # deferred transaction whose first read fixes a WAL snapshot.
            write = conn.get_execution_options().get(WRITE_OPTION, False)
            # on the driver's connection: through exec_driver_sql this one
            # statement cost 30 % of a read session's CPU in SQLAlchemy
            # (40 -> 28 µs of CPU per read session, docs/performance.md)
            sqlite_writes.execute_on_driver(conn, "BEGIN IMMEDIATE" if write else "BEGIN")

    def lock(self, select: sa.Select, write: bool) -> sa.Select:
        return select  # the database-wide lock of BEGIN IMMEDIATE / the snapshot

    def try_lock(self, engine: sa.Engine, name: str, seconds: float) -> HeldLock | None:
        # One file on one machine: an flock next to it, which the kernel
        # drops with a dead process (`seconds` unused). A lease row would
        # queue behind this process's own writers (the group commit).
        handle = os.open(f"{engine.url.database}.{name}-lock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(handle)
            return None
        return _FileLock(handle)

    def insert(self, table: sa.Table) -> sqlite.Insert:
        return sqlite.insert(table)

    def insert_ignore(self, table: sa.Table) -> sa.Insert:
        return on_conflict_insert_ignore(self.insert(table))

    def upsert(self, insert, keys, set_):
        return on_conflict_upsert(insert, keys, set_)

    def sortindex_desc(self, column):
        return column.desc()  # SQLite sorts NULL last on DESC; NULLS LAST needs 3.30+

    def bounded_delete(self, table, where, limit):
        # DELETE ... LIMIT needs a compile-time option; rowid works everywhere
        rowid = sa.literal_column("rowid")
        return sa.delete(table).where(
            rowid.in_(sa.select(rowid).select_from(table).where(where).limit(limit).scalar_subquery())
        )

    def reserve_ids(self, conn, table, column, above):
        # AUTOINCREMENT keeps its high-water mark in sqlite_sequence
        raised = conn.execute(
            sa.text(f"UPDATE sqlite_sequence SET seq = MAX(seq, :n) WHERE name = '{table}'"), {"n": above}
        ).rowcount
        if not raised:
            conn.execute(sa.text(f"INSERT INTO sqlite_sequence (name, seq) VALUES ('{table}', :n)"), {"n": above})

    def classify_driver_error(self, exc):
        orig = exc.orig
        code = getattr(orig, "sqlite_errorcode", None)
        if code is not None:
            primary = code & 0xFF
            if primary in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                return ConflictError(str(orig))
            if primary in (sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL):
                return UnavailableError(str(orig))
        return None


class _GroupWriters(Writers):
    """Reads are WAL snapshots on their own pooled connections. SQLite has
    one write lock per database and every COMMIT is an fsync
    (synchronous=FULL): the writers of this process queue for one turn
    (woken the moment it is free, where SQLite's busy handler would sleep up
    to 100 ms) and share one COMMIT among those that queued
    (docs/architecture.md, "SQLite writers"). Writers of other processes
    (--workers N) still meet in the busy handler: correct, not as fast."""

    def __init__(
        self,
        engine: sa.Engine,
        dialect: SQLiteDialect,
        max_tick_wait: float,
        clock: Callable[[], float],
    ):
        super().__init__(engine)
        self._writes = sqlite_writes.GroupCommit(
            engine.execution_options(**{WRITE_OPTION: True}),
            lock_timeout=dialect.lock_timeout,
            classify=dialect.classify,
        )
        self._collection_queue = sqlite_writes.CollectionQueue(
            lock_timeout=dialect.lock_timeout, max_tick_wait=max_tick_wait, clock=clock
        )
        self._readers = _ThreadReaders(engine)

    # the base's @contextmanager type: both branches below are one of those
    def transaction(self, *, write: bool) -> contextlib._GeneratorContextManager[sa.Connection]:
        if not write:
            return super().transaction(write=False)  # a WAL snapshot
        return self._writes.transaction()

    def collection_writers(self, userid, collection):
        return self._collection_queue.turn(userid, collection)

    def read_once(self, compiled, values):
        return self._readers.rows(compiled, values)

    def close(self) -> None:
        self._readers.close()


class _ThreadReaders:
    """One SQLite connection per thread for single-statement reads (a
    statement in autocommit mode reads one snapshot), kept out of the pool:
    the pool's checkout and return were 7 % of the event loop's GIL-holding
    samples in the steady benchmark, where these reads run for
    `info/collections` (docs/performance.md). A connection whose statement
    failed is closed and replaced at the next read."""

    def __init__(self, engine: sa.Engine):
        self._engine = engine
        self._local = threading.local()
        self._mutex = threading.Lock()
        self._connections: list[sqlite3.Connection] = []  # guarded by _mutex

    def rows(self, compiled: compiled_statements.Compiled, values) -> list:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = self._connect()

        def on_error(exc, sql, params, cursor):
            self._local.connection = None
            self._forget(connection)
            sa.Connection._handle_dbapi_exception_noconnection(exc, self._engine.dialect, self._engine)

        return compiled_statements.Driver(connection, on_error).rows(compiled, values)

    def _connect(self) -> sqlite3.Connection:
        pooled = self._engine.raw_connection()  # with the engine's connect hooks (pragmas)
        pooled.detach()  # ours from now on
        connection = cast(sqlite3.Connection, pooled.dbapi_connection)
        with self._mutex:
            self._connections.append(connection)
        return connection

    def _forget(self, connection: sqlite3.Connection) -> None:
        with self._mutex:
            if connection in self._connections:
                self._connections.remove(connection)
        connection.close()

    def close(self) -> None:
        with self._mutex:
            connections, self._connections = self._connections, []
        for connection in connections:
            connection.close()


class _FileLock(HeldLock):
    def __init__(self, handle: int):
        self._handle = handle

    def release(self) -> None:
        os.close(self._handle)  # closing the file releases the flock


def _create_private_file(path: str) -> None:
    """Create a new SQLite file readable only by us (storage-model §10.1)."""
    if path and not os.path.exists(path):
        fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
        os.close(fd)
