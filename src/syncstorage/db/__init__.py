"""The database layer shared by storage, the tokenserver, the migrations and
the tools: the one engine factory, the `Dialect` of each database (one
module each: `sqlite.py`, `postgresql.py`, `mysql.py`), the errors every
user tells apart, and column types (`types.py`).

Nothing outside this package asks which database it runs on; it asks the
dialect (issue 11). SQL that knows the storage's tables stays in
`storage/sql/statements.py`.

Driver choice (issue 3): psycopg 3 for PostgreSQL (maintained successor of
psycopg2, binary wheels); for MySQL/MariaDB mysqlclient (C) when it is
installed, else PyMySQL (pure Python, no client library to build); see
docs/architecture.md for the measurements.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from .dialect import WRITE_OPTION, Dialect, HeldLock, Writers
from .errors import ConflictError, StorageError, UnavailableError
from .mysql import MySQLDialect
from .postgresql import PostgresDialect
from .prefix import prefix_range
from .sqlite import SQLiteDialect
from .urls import same_database

__all__ = [
    "WRITE_OPTION",
    "ConflictError",
    "Dialect",
    "HeldLock",
    "StorageError",
    "UnavailableError",
    "Writers",
    "create_engine",
    "for_url",
    "prefix_range",
    "same_database",
]

_DIALECTS: dict[str, type[Dialect]] = {
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


def create_engine(
    url: str | URL,
    *,
    lock_timeout: float,
    database_timeout: float | None = None,
    pool_size: int | None,
    writes_only: bool = False,
) -> tuple[Dialect, sa.Engine]:
    """The engine for `url` with its database's settings installed, and the
    dialect. `pool_size` None: no pool, a connection per use (a migration
    run). `writes_only`: every transaction is a writer (on SQLite BEGIN
    IMMEDIATE: a transaction that reads then writes must not find another
    writer in the way when it upgrades)."""
    dialect, normalized = for_url(url, lock_timeout=lock_timeout, database_timeout=database_timeout)
    options = dialect.engine_options(normalized, pool_size=pool_size or 1)
    if pool_size is None:
        for pool_option in ("pool_size", "max_overflow", "pool_timeout"):
            options.pop(pool_option, None)
        options["poolclass"] = sa.pool.NullPool
    engine = sa.create_engine(normalized, **options)
    dialect.install(engine)
    if writes_only:
        engine = engine.execution_options(**{WRITE_OPTION: True})
    return dialect, engine
