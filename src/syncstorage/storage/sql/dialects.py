"""Every per-database difference of the SQL backend, in one place.

The backend speaks SQLAlchemy Core and asks this module whenever SQLite,
PostgreSQL and MySQL/MariaDB need different SQL or settings:

- which driver a plain URL gets, and the engine/connection settings
  (SQLite WAL + durability, lock timeouts, pool health checks, and the
  deadline of every wait for a database server: `database_timeout`);
- how a read or write transaction runs and which locking clause it uses
  (storage-model §5.2, §5.3; SQLite's group commit is in `sqlite_writes.py`);
- upsert and insert-ignore statement forms (storage-model §4.1, §6.2, §7.3);
- how a statement reaches bso rows by primary key (the `ids=` listing and
  the batch commit's merge) so that the plan does not depend on statistics;
- the bounded delete of the purge job (storage-model §8);
- which driver errors are conflicts and which mean "database unreachable"
  (storage-model §5.4).

Driver choice (issue 3): psycopg 3 for PostgreSQL (maintained successor of
psycopg2, binary wheels); for MySQL/MariaDB mysqlclient (C) when it is
installed, else PyMySQL (pure Python, no client library to build); see
docs/architecture.md for the measurements.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import math
import os
import sqlite3
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.engine import URL, make_url

from .. import ConflictError, StorageError, UnavailableError
from . import sqlite_writes, watchdog

# Column types -------------------------------------------------------------------


class _MySQLAsciiBinary(sa.types.TypeDecorator):
    """An ASCII str kept in VARBINARY: compared byte by byte, trailing spaces
    included. Every MySQL/MariaDB VARCHAR collation portable to both servers
    (ascii_bin too) is PAD SPACE, under which "a" = "a " = "a  ": three valid,
    distinct BSO ids would share one primary key."""

    impl = mysql.VARBINARY
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else value.encode("ascii")

    def process_result_value(self, value, dialect):
        return None if value is None else value.decode("ascii")


def id_string(length: int) -> sa.types.TypeEngine:
    """A case-sensitive ASCII string compared byte by byte.

    BSO ids and collection names are printable ASCII, case-sensitive, and a
    trailing space is significant (storage-api §1.2). MySQL's default
    collations are case-insensitive and pad with spaces, so MySQL gets
    VARBINARY; PostgreSQL gets the "C" collation so ORDER BY id is plain byte
    order, as on SQLite.
    """
    return (
        sa.String(length)
        .with_variant(_MySQLAsciiBinary(length), "mysql", "mariadb")
        .with_variant(postgresql.VARCHAR(length, collation="C"), "postgresql")
    )


def payload_text() -> sa.types.TypeEngine:
    """Payload text: MySQL needs MEDIUMTEXT (TEXT holds only 64 KiB) in utf8mb4
    so any Unicode payload round-trips (storage-model §10.2)."""
    return sa.Text().with_variant(
        mysql.MEDIUMTEXT(charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb"
    )


# Per-database behaviour ------------------------------------------------------------

Incoming = Any  # the "row that would have been inserted" of an upsert
SetBuilder = Callable[[Incoming], Mapping[str, Any]]

BSO_KEY = ("userid", "collection", "id")  # the bso primary key

# execution option that tells SQLite's begin hook to take the write lock
WRITE_OPTION = "syncstorage_write"
# The longest a write waits for its timestamp to pass the collection's last
# write (storage-model §5.3; backend._after_tick): its own tick, and one more
# for a clock that runs a little behind another process's
MAX_TICK_WAIT_MS = 20

# Without a database_timeout (migrations, `syncstorage purge`, import: work
# that may legitimately run for minutes) connecting and waiting for a pooled
# connection are still bounded, by these.
CONNECT_TIMEOUT_WITHOUT_DEADLINE = 30
POOL_TIMEOUT_WITHOUT_DEADLINE = 30.0


class Dialect:
    """The PostgreSQL forms, which are also the defaults the other databases
    override where they differ."""

    name: str
    default_driver: str
    # a server database answers over the network, so a read can wait
    reads_never_wait = False

    def __init__(self, lock_timeout: float, database_timeout: float | None = None):
        self.lock_timeout = lock_timeout
        # Seconds any one wait for a database server may last: connecting,
        # a statement with its rows, COMMIT, the pool's health check. Past
        # it the connection is dropped and the request answers 503 (issue
        # 10). None: only connecting is bounded. Lock waits are meant to end
        # sooner, as conflicts (lock_timeout).
        self.database_timeout = database_timeout

    # --- connecting ---
    def normalize_url(self, url: URL) -> URL:
        """Plain `scheme://` gets our driver; an explicit `+driver` is kept."""
        if "+" not in url.drivername:
            url = url.set(drivername=f"{self.name}+{self.default_driver}")
        return url

    @property
    def connect_timeout(self) -> int:
        """Whole seconds (what the drivers take), at least 1."""
        return max(1, math.ceil(self.database_timeout or CONNECT_TIMEOUT_WITHOUT_DEADLINE))

    def engine_options(self, url: URL, *, pool_size: int) -> dict:
        return {
            "pool_size": pool_size,
            "max_overflow": pool_size,
            "pool_timeout": self.database_timeout or POOL_TIMEOUT_WITHOUT_DEADLINE,
            # a server restart or an idle timeout leaves dead connections in
            # the pool; test them on checkout so the next request recovers
            "pool_pre_ping": True,
        }

    def install(self, engine: sa.Engine) -> None:
        """Attach per-connection settings to a new engine."""

        @sa.event.listens_for(engine, "handle_error")
        def _no_reconnect_after_timeout(context):
            # A pooled connection's health check that ran out of time means
            # a frozen or unreachable server: SQLAlchemy would reconnect and
            # wait as long again (twice the deadline in all). Not counted as
            # a disconnect, the checkout fails at once and the pool drops
            # that connection.
            if context.is_pre_ping and _timed_out(context.original_exception):
                context.is_disconnect = False

    def threads(self, pool_size: int) -> tuple[int, int]:
        """Threads worth giving the blocking storage calls, (readers, writers):
        a server database keeps each one waiting on the network, so as many
        as the pool has connections (pool_size + max_overflow) between them;
        more would queue for a connection."""
        return pool_size, pool_size

    # --- transactions and locks (storage-model §5) ---
    @contextlib.contextmanager
    def transaction(self, engine: sa.Engine, *, write: bool) -> Iterator[sa.Connection]:
        """One transaction on a pooled connection of `engine` (the engine
        given to `install`). Where the database queues writers itself (row
        locks) every request is its own transaction."""
        with engine.connect() as conn:
            conn.execution_options(**{WRITE_OPTION: write})
            with conn.begin():
                yield conn

    def lock(self, select: sa.Select, write: bool) -> sa.Select:
        """The collection-row lock: FOR UPDATE for writers, a shared lock for
        readers (SQLAlchemy spells FOR SHARE / LOCK IN SHARE MODE)."""
        return select.with_for_update(read=not write)

    def collection_writers(self, userid: int, collection: str) -> contextlib.AbstractContextManager:
        """Entered around a write session on a collection, before its
        transaction. Yields None, or an object whose `last_written` the
        session sets to its T once committed (SQLite: CollectionQueue)."""
        return contextlib.nullcontext()

    # --- statement forms ---
    def insert(self, table: sa.Table) -> sa.Insert:
        """An INSERT construct that can become an upsert (see `upsert`)."""
        return postgresql.insert(table)

    def insert_ignore(self, table: sa.Table) -> sa.Insert:
        """INSERT that skips rows whose key exists; its rowcount says how
        many went in (SQLAlchemy keeps INSERT rowcounts only when asked)."""
        return self.insert(table).on_conflict_do_nothing().execution_options(preserve_rowcount=True)

    def upsert(self, insert: sa.Insert, keys: list[str], set_: SetBuilder) -> sa.Insert:
        """Turn `insert` (from `self.insert`, with values or a SELECT) into an
        upsert on the primary key `keys`.

        `set_(incoming)` returns the columns to change on an existing row,
        `incoming.<col>` naming the value that would have been inserted.
        """
        changes = set_(insert.excluded)
        if not changes:
            return insert.on_conflict_do_nothing(index_elements=keys)
        return insert.on_conflict_do_update(index_elements=keys, set_=dict(changes))

    # --- statements on bso whose plan must not depend on statistics ---
    # PostgreSQL plans a join or an `id IN (...)` on bso by estimated row
    # counts. On a table whose statistics are missing or stale (a new
    # database, a collection that just grew by 100,000 records before
    # auto-analyze) it expects about one row per (userid, collection) and
    # walks a listing index over the whole collection, filtering by id:
    # ids= of 100 took 496 ms at 100,000 records, and a 10,000-record batch
    # commit tens of seconds, growing with the collection
    # (docs/performance.md, "Scale behaviour"). The PostgreSQL forms below
    # leave the planner no such choice.
    def rows_by_ids(
        self, table: sa.Table
    ) -> tuple[sa.FromClause, sa.FromClause, sa.ColumnElement | None]:
        """The rows of `table` in collection `cid` of user `uid` whose id is
        in the bind parameter `ids` (a list, storage-api §4.2 ids=), as
        (FROM clause, rows, condition): select `rows.c.*` from the FROM
        clause where the condition (if any) holds.

        PostgreSQL: per id, a LATERAL subquery takes the last row at or
        before (userid, collection, id) in primary-key order (`ORDER BY
        ... DESC LIMIT 1`), and the condition keeps it if it is that item.
        Only the primary key returns rows in that order; any other index
        would have to sort every row it reads, and the planner estimates
        those rows from `userid <= uid` (a third of the table without
        statistics; nearly all of it for a new user, whose id is the
        highest), not as "about one row", so a sort never looks cheap. With
        `userid = ... AND collection = ... AND id = ...` every index ties at
        one row on a table without statistics, and PostgreSQL took a listing
        index (docs/performance.md, "Scale behaviour"). LIMIT also keeps
        the subquery from being flattened into a join that could walk the
        whole collection once. What remains: statistics that put no row at
        or below this user (an old user with no records when they were
        taken) bring back the tie."""
        ids = sa.bindparam("ids", type_=postgresql.ARRAY(sa.String))
        # DISTINCT: ids=a,a names one item, as `id IN (...)` does
        wanted = sa.select(sa.func.unnest(ids).label("id")).distinct().subquery("wanted")
        key = [table.c.userid, table.c.collection, table.c.id]
        uid, cid = sa.bindparam("uid", type_=sa.BigInteger), sa.bindparam("cid", type_=sa.Integer)
        row = (
            sa.select(table, sa.literal_column("ctid"))  # ctid: see delete_by_ids
            .where(sa.tuple_(*key) <= sa.tuple_(uid, cid, wanted.c.id))
            .order_by(*(column.desc() for column in key))
            .limit(sa.literal_column("1"))  # a literal: a generic plan knows it too
            .lateral(f"{table.name}_row")
        )
        condition = sa.and_(
            row.c.userid == uid, row.c.collection == cid, row.c.id == wanted.c.id
        )
        return wanted.join(row, sa.true()), row, condition

    def delete_by_ids(self, table: sa.Table) -> sa.Delete:
        """DELETE the rows `rows_by_ids` names (same bind parameters).

        PostgreSQL: the rows are found as in `rows_by_ids`, once (an
        InitPlan), and deleted by their ctids, which only a TID scan serves;
        `id IN (...)` walked the collection like the listing did."""
        source, rows, condition = self.rows_by_ids(table)
        found = sa.select(rows.c.ctid).select_from(source).where(condition)
        ctids = sa.func.array(found.scalar_subquery())
        return sa.delete(table).where(sa.literal_column("ctid") == sa.any_(ctids))

    def merge_staged(
        self,
        bso: sa.Table,
        items: sa.Table,
        this_batch: sa.ColumnElement,
        fixed: Mapping[str, Any],
        staged: Mapping[str, Any],
        defaults: Mapping[str, Any],
    ) -> sa.Insert:
        """The batch commit's merge (storage-model §7.3): upsert the rows of
        `items` matching `this_batch` into `bso` on its primary key.

        `fixed` maps the columns with one value for new and stored rows
        (userid, collection, id, modified) to it; `staged` maps the merged
        columns to the staged value, NULL where it was not supplied;
        `defaults` gives a new row's value where nothing was supplied. A
        stored row (expired-but-unpurged ones too) keeps what was not
        supplied.

        PostgreSQL: insert the staged rows alone and merge in ON CONFLICT DO
        UPDATE, where the stored row is the conflicting one, found through
        the primary key by the upsert itself, not by a planned join. The
        update looks up what was supplied in the staged row by its primary
        key (batch, userid, id), the only index of `items`. A column whose
        default is NULL says itself whether it was supplied."""
        columns = [*fixed, *staged]
        source = sa.select(
            *fixed.values(), *(_or_default([staged[c]], defaults[c]) for c in staged)
        ).where(this_batch)

        # SQLAlchemy would add `excluded` to the subquery's FROM list: name
        # the row ON CONFLICT proposed as PostgreSQL does
        excluded_id = sa.literal_column("excluded.id", bso.c.id.type)

        def merged(incoming):
            changes = {c: incoming[c] for c in fixed if c not in BSO_KEY}
            for c in staged:
                if defaults[c] is None:
                    supplied = incoming[c]
                else:
                    supplied = (
                        sa.select(staged[c])
                        .where(this_batch, items.c.id == excluded_id)
                        .scalar_subquery()
                    )
                changes[c] = sa.func.coalesce(supplied, bso.c[c])
            return changes

        return self.upsert(self.insert(bso).from_select(columns, source), list(BSO_KEY), merged)

    def sortindex_desc(self, column: sa.ColumnElement) -> sa.ColumnElement:
        """storage-api §9.1: null sortindex after every number."""
        return column.desc().nulls_last()

    def bounded_delete(
        self, table: sa.Table, where: sa.ColumnElement, limit: int
    ) -> sa.Delete:
        """DELETE at most `limit` rows matching `where` (storage-model §8)."""
        ctid = sa.literal_column("ctid")
        return sa.delete(table).where(
            ctid.in_(sa.select(ctid).select_from(table).where(where).limit(limit).scalar_subquery())
        )

    # --- errors (storage-model §5.4) ---
    def classify(self, exc: sa.exc.DBAPIError) -> StorageError | None:
        """A ConflictError or UnavailableError for `exc`, or None if it is a bug."""
        if exc.connection_invalidated:
            return UnavailableError(str(exc.orig))
        return None


class _PlannedByKey:
    """`rows_by_ids`, `delete_by_ids` and `merge_staged` in their plain forms
    (`id IN (...)`, a LEFT JOIN to the stored rows), for databases whose
    planner reaches bso by its primary key on its own: SQLite (0.28 s to
    merge 5,000 staged items into 100,000 records) and InnoDB (flat `ids=`
    and 5,500 rec/s loads on a fresh table; MariaDB has no LATERAL either);
    docs/performance.md."""

    def rows_by_ids(self, table):
        return table, table, table.c.id.in_(sa.bindparam("ids", expanding=True))

    def delete_by_ids(self, table):
        return sa.delete(table).where(
            table.c.userid == sa.bindparam("uid"),
            table.c.collection == sa.bindparam("cid"),
            table.c.id.in_(sa.bindparam("ids", expanding=True)),
        )

    def merge_staged(self, bso, items, this_batch, fixed, staged, defaults):
        # every column computed in the SELECT, against the stored row joined
        # by primary key; the upsert then copies them
        existing = bso.alias("existing")
        source = (
            sa.select(
                *fixed.values(),
                *(_or_default([staged[c], existing.c[c]], defaults[c]) for c in staged),
            )
            .select_from(
                items.outerjoin(existing, sa.and_(*(existing.c[k] == fixed[k] for k in BSO_KEY)))
            )
            .where(this_batch)
        )
        columns = [*fixed, *staged]
        return self.upsert(
            self.insert(bso).from_select(columns, source),
            list(BSO_KEY),
            lambda incoming: {c: incoming[c] for c in columns if c not in BSO_KEY},
        )


class SQLiteDialect(_PlannedByKey, Dialect):
    name = "sqlite"
    default_driver = "pysqlite"
    # in this process, and WAL readers never wait for writers (storage-model §10.1)
    reads_never_wait = True

    def transaction(self, engine, *, write):
        if not write:
            return super().transaction(engine, write=False)  # a WAL snapshot
        # SQLite has one write lock per database and every COMMIT is an fsync
        # (synchronous=FULL): the writers of this process queue for one turn
        # (woken the moment it is free, where SQLite's busy handler would
        # sleep up to 100 ms) and share one COMMIT among those that queued
        # (docs/architecture.md, "SQLite writers"). Writers of other processes
        # (--workers N) still meet in the busy handler: correct, not as fast.
        return self._writes.transaction()

    def collection_writers(self, userid, collection):
        return self._collection_queue.turn(userid, collection)

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
        busy_ms = int(self.lock_timeout * 1000)
        self._writes = sqlite_writes.GroupCommit(
            engine.execution_options(**{WRITE_OPTION: True}),
            lock_timeout=self.lock_timeout,
            classify=self.classify,
        )
        self._collection_queue = sqlite_writes.CollectionQueue(
            lock_timeout=self.lock_timeout, max_tick_wait=MAX_TICK_WAIT_MS / 1000
        )

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

    def insert(self, table: sa.Table) -> sa.Insert:
        return sqlite.insert(table)

    def sortindex_desc(self, column):
        return column.desc()  # SQLite sorts NULL last on DESC; NULLS LAST needs 3.30+

    def bounded_delete(self, table, where, limit):
        # DELETE ... LIMIT needs a compile-time option; rowid works everywhere
        rowid = sa.literal_column("rowid")
        return sa.delete(table).where(
            rowid.in_(sa.select(rowid).select_from(table).where(where).limit(limit).scalar_subquery())
        )

    def classify(self, exc):
        orig = exc.orig
        code = getattr(orig, "sqlite_errorcode", None)
        if code is not None:
            primary = code & 0xFF
            if primary in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                return ConflictError(str(orig))
            if primary in (sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL):
                return UnavailableError(str(orig))
        return super().classify(exc)


class PostgresDialect(Dialect):
    name = "postgresql"
    default_driver = "psycopg"

    # SQLSTATEs: lock_not_available, deadlock_detected, serialization_failure
    CONFLICT_STATES = {"55P03", "40P01", "40001"}

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

    def classify(self, exc):
        state = getattr(exc.orig, "sqlstate", None)
        if state in self.CONFLICT_STATES:
            return ConflictError(str(exc.orig))
        # class 08 = connection exception, 57P0x = server shutting down or
        # our backend terminated, 57014 = cancelled by statement_timeout; no
        # SQLSTATE at all = never connected, or dropped (watchdog)
        if state is None or state.startswith("08") or state.startswith("57"):
            if isinstance(exc, (sa.exc.OperationalError, sa.exc.InterfaceError)):
                return UnavailableError(str(exc.orig))
        return super().classify(exc)


class MySQLDialect(_PlannedByKey, Dialect):
    name = "mysql"

    @property
    def default_driver(self) -> str:
        # mysqlclient needs a C compiler and the MySQL client library, so it
        # is an extra (`syncstorage[mysqlclient]`); where it is installed it
        # is the one to use: PyMySQL parses every packet in Python, which
        # cost 2,286 against 894 µs of CPU per request in the steady
        # benchmark (docs/performance.md, change 16)
        return "mysqldb" if importlib.util.find_spec("MySQLdb") else "pymysql"

    # lock wait timeout, lock table full, deadlock, lock aborted
    CONFLICT_CODES = {1205, 1206, 1213, 1689}
    # server shutdown, killed, can't connect, gone away, lost connection, ...
    UNAVAILABLE_CODES = {1053, 1077, 1152, 1927, 2002, 2003, 2005, 2006, 2013, 2055, 4031}

    def normalize_url(self, url: URL) -> URL:
        if url.drivername == "mariadb":
            url = url.set(drivername="mysql")
        url = super().normalize_url(url)
        if "charset" not in url.query:
            url = url.update_query_dict({"charset": "utf8mb4"})
        return url

    def engine_options(self, url: URL, *, pool_size: int) -> dict:
        options = super().engine_options(url, pool_size=pool_size)
        # storage-model §10.2: READ COMMITTED, so every read after the lock
        # sees the latest committed rows; recycle below the server's
        # wait_timeout (8 h by default) so idle connections are not cut.
        options.update(isolation_level="READ COMMITTED", pool_recycle=3600)
        # PyMySQL and mysqlclient both run init_command on every new
        # connection, and take these timeouts in whole seconds: the socket's
        # read/write timeouts cover the handshake, every statement and the
        # pool's health check (a ping), so no client-side watchdog is needed
        lock_s = max(1, int(self.lock_timeout))  # whole seconds, at least 1 (the server's rule)
        connect_args = {
            "init_command": f"SET SESSION innodb_lock_wait_timeout = {lock_s}",
            "connect_timeout": self.connect_timeout,
        }
        if self.database_timeout is not None:
            seconds = self.connect_timeout  # the same whole seconds
            connect_args.update(read_timeout=seconds, write_timeout=seconds)
        options["connect_args"] = connect_args
        return options

    def insert(self, table: sa.Table) -> sa.Insert:
        return mysql.insert(table)

    def insert_ignore(self, table: sa.Table) -> sa.Insert:
        # we only insert integers and known-valid names, so a duplicate key is
        # the only error IGNORE can turn into a skipped row
        return mysql.insert(table).prefix_with("IGNORE").execution_options(preserve_rowcount=True)

    def upsert(self, insert: sa.Insert, keys: list[str], set_: SetBuilder) -> sa.Insert:
        changes = dict(set_(insert.inserted))  # VALUES(col) on MariaDB
        if not changes:
            # "keep the existing row": a no-op assignment (INSERT IGNORE would
            # also turn unrelated errors into warnings)
            changes = {keys[0]: insert.table.c[keys[0]]}
        return insert.on_duplicate_key_update(changes)

    def sortindex_desc(self, column):
        return column.desc()  # MySQL sorts NULL last on DESC and lacks NULLS LAST

    def bounded_delete(self, table, where, limit):
        return sa.delete(table).where(where).with_dialect_options(mysql_limit=limit)

    def classify(self, exc):
        args = getattr(exc.orig, "args", ())
        code = args[0] if args and isinstance(args[0], int) else None
        if code in self.CONFLICT_CODES:
            return ConflictError(str(exc.orig))
        if code in self.UNAVAILABLE_CODES:
            return UnavailableError(str(exc.orig))
        return super().classify(exc)


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


def _timed_out(exc: BaseException) -> bool:
    """A driver error caused by a timeout: the socket's (PyMySQL) or the
    watchdog's (psycopg, above)."""
    return isinstance(exc.__cause__ or exc.__context__, TimeoutError)


def _or_default(values: list[sa.ColumnElement], default: Any) -> sa.ColumnElement:
    """The first non-NULL of `values`, then `default` (if not None)."""
    if default is not None:
        values = [*values, default]
    return values[0] if len(values) == 1 else sa.func.coalesce(*values)


def _create_private_file(path: str) -> None:
    """Create a new SQLite file readable only by us (storage-model §10.1)."""
    if path and not os.path.exists(path):
        fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
        os.close(fd)


_DIALECTS = {
    "sqlite": SQLiteDialect,
    "postgresql": PostgresDialect,
    "postgres": PostgresDialect,
    "mysql": MySQLDialect,
    "mariadb": MySQLDialect,
}


def for_url(
    raw_url: str | URL, *, lock_timeout: float, database_timeout: float | None = None
) -> tuple[Dialect, URL]:
    """The dialect object for a database URL and the URL with its driver;
    `database_timeout`: see `Dialect.database_timeout`."""
    url = make_url(raw_url)
    backend = url.get_backend_name()
    if backend == "postgres":
        url = url.set(drivername=url.drivername.replace("postgres", "postgresql", 1))
    try:
        dialect = _DIALECTS[backend](lock_timeout, database_timeout)
    except KeyError:
        raise ValueError(
            f"unsupported database {backend!r}: use sqlite://, postgresql:// or mysql://"
        ) from None
    return dialect, dialect.normalize_url(url)
