"""MySQL and MariaDB (InnoDB) through mysqlclient or PyMySQL: READ
COMMITTED, innodb_lock_wait_timeout and socket timeouts per connection,
server error numbers."""

from __future__ import annotations

import importlib.util

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import URL

from .dialect import Dialect, HeldLock
from .errors import ConflictError, UnavailableError
from .leases import take_lease


class MySQLDialect(Dialect):
    name = "mysql"
    # flat `ids=` and 5,500 rec/s loads on a fresh table (docs/performance.md)
    stable_key_plans = True

    @property
    def default_driver(self) -> str:
        # mysqlclient needs a C compiler and the MySQL client library, so it
        # is an extra (`syncstorage[mysqlclient]`); where it is installed it
        # is the one to use: PyMySQL parses every packet in Python, which
        # cost 2,286 against 894 µs of CPU per request in the steady
        # benchmark (docs/performance.md, change 16)
        return "mysqldb" if importlib.util.find_spec("MySQLdb") else "pymysql"

    # lock wait timeout, lock table full, deadlock, lock aborted
    # what each conflict is, for the operator reading the request log
    CONFLICT_CODES = {
        1205: "lock wait timeout",
        1206: "lock table full",
        1213: "deadlock",  # also a Galera certification failure, told apart below
        1689: "lock wait aborted",
    }
    # server shutdown, killed, can't connect, gone away, lost connection,
    # a Galera node not (yet) in the cluster (1047), ...
    UNAVAILABLE_CODES = {1047, 1053, 1077, 1152, 1927, 2002, 2003, 2005, 2006, 2013, 2055, 4031}

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

    def lock(self, select, write):
        return select.with_for_update(read=not write)  # FOR UPDATE / LOCK IN SHARE MODE

    def try_lock(self, engine: sa.Engine, name: str, seconds: float) -> HeldLock | None:
        # not GET_LOCK: it holds on one node of a Galera cluster only
        return take_lease(self, engine, name, seconds)

    def insert(self, table: sa.Table) -> sa.Insert:
        return mysql.insert(table)

    def insert_ignore(self, table: sa.Table) -> sa.Insert:
        # we only insert integers and known-valid names, so a duplicate key is
        # the only error IGNORE can turn into a skipped row
        return mysql.insert(table).prefix_with("IGNORE").execution_options(preserve_rowcount=True)

    def upsert(self, insert, keys, set_):
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

    def reserve_ids(self, conn, table, column, above):
        # never lowers it: InnoDB keeps AUTO_INCREMENT above MAX(column)
        conn.execute(sa.text(f"ALTER TABLE {table} AUTO_INCREMENT = {int(above) + 1}"))

    def classify_driver_error(self, exc):
        args = getattr(exc.orig, "args", ())
        code = args[0] if args and isinstance(args[0], int) else None
        if code in self.CONFLICT_CODES:
            # Galera aborts the losing one of two nodes' conflicting writes
            kind = "cluster abort" if "WSREP" in str(exc.orig) else self.CONFLICT_CODES[code]
            return ConflictError(f"{kind}: {exc.orig}")
        if code in self.UNAVAILABLE_CODES:
            return UnavailableError(str(exc.orig))
        return None
