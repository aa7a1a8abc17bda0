"""Empty test databases on every configured backend, and Redis (imported by
tests/conftest.py and by suites that need more than its fixtures).

SQLite always runs. PostgreSQL and MySQL/MariaDB run when their URL is given:

    SYNCSTORAGE_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/test
    SYNCSTORAGE_TEST_MYSQL_URL=mysql://root@127.0.0.1:3306/test

Without a URL those tests skip with the reason. With
SYNCSTORAGE_TEST_REQUIRE_BACKENDS=1 (CI sets it) a missing URL or an
unreachable server fails the run instead of skipping: `unavailable` is that
one check, for the SQL servers, Redis (SYNCSTORAGE_TEST_REDIS_URL) and, with
its own variable, Firefox.

Each test gets a database of its own: a fresh SQLite file, or a database
(MySQL) / schema (PostgreSQL) named after the test process, dropped and
re-created before the test, so tests never see each other's rows, and
concurrent test runs on one machine never share a database. They are dropped
again when the run ends (`drop_created_databases`).
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest
import redis
import sqlalchemy as sa
from sqlalchemy.engine import make_url

BACKENDS = ("sqlite", "postgresql", "mysql")
_URL_VARS = {
    "postgresql": "SYNCSTORAGE_TEST_POSTGRES_URL",
    "mysql": "SYNCSTORAGE_TEST_MYSQL_URL",
}
_ADMIN_DRIVERS = {"postgresql": "postgresql+psycopg", "mysql": "mysql+pymysql"}


def unavailable(reason: str, required_by: str = "SYNCSTORAGE_TEST_REQUIRE_BACKENDS") -> NoReturn:
    """Skip the test for `reason`, or fail it when `required_by` is set (CI
    sets it), so that a missing backend cannot pass a run unnoticed."""
    if os.environ.get(required_by, "") not in ("", "0"):
        pytest.fail(f"{required_by} is set but {reason}")
    pytest.skip(reason)


def redis_url() -> str:
    """SYNCSTORAGE_TEST_REDIS_URL, answering (else `unavailable`)."""
    url = os.environ.get("SYNCSTORAGE_TEST_REDIS_URL", "")
    if not url:
        unavailable("Redis tests need SYNCSTORAGE_TEST_REDIS_URL (e.g. redis://127.0.0.1:6379/0)")
    try:
        with redis.Redis.from_url(url) as client:
            client.ping()
    except redis.RedisError as exc:
        unavailable(f"Redis at SYNCSTORAGE_TEST_REDIS_URL is unreachable: {exc}")
    return url


def _run_label() -> str:
    # The process id keeps two test runs on one machine (or two xdist
    # workers) from dropping each other's databases.
    return f"{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{os.getpid()}"


_created: set[tuple[str, str]] = set()


_admin_engines: dict[str, sa.Engine] = {}


def _admin_engine(backend: str) -> sa.Engine:
    """An engine on the configured server database, for CREATE/DROP only."""
    if backend not in _admin_engines:
        var = _URL_VARS[backend]
        raw = os.environ.get(var)
        if not raw:
            unavailable(f"{backend} tests need {var} (e.g. {'postgresql://postgres@127.0.0.1:5432/test' if backend == 'postgresql' else 'mysql://root@127.0.0.1:3306/test'})")
        url = make_url(raw).set(drivername=_ADMIN_DRIVERS[backend])
        engine = sa.create_engine(url, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except sa.exc.OperationalError as exc:
            unavailable(f"{backend} at {var} is unreachable: {exc.orig}")
        _admin_engines[backend] = engine
    return _admin_engines[backend]


def fresh_database_url(backend: str, tmp_path, name: str = "") -> str:
    """A URL naming an empty database on `backend`, as a user would write it
    (no +driver: the server picks its own driver)."""
    label = f"sst_{_run_label()}{name}"
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / (label + '.db')}"
    engine = _admin_engine(backend)
    raw = make_url(os.environ[_URL_VARS[backend]])
    _created.add((backend, label))
    with engine.connect() as conn:
        if backend == "postgresql":
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{label}" CASCADE'))
            conn.execute(sa.text(f'CREATE SCHEMA "{label}"'))
            # search_path selects the schema for every connection of the server
            return raw.set(query={"options": f"-csearch_path={label}"}).render_as_string(
                hide_password=False
            )
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{label}`"))
        conn.execute(sa.text(f"CREATE DATABASE `{label}` CHARACTER SET utf8mb4"))
        return raw.set(database=label).render_as_string(hide_password=False)


def drop_created_databases() -> None:
    """Drop every database/schema this process created."""
    for backend, label in sorted(_created):
        with _admin_engines[backend].connect() as conn:
            if backend == "postgresql":
                conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{label}" CASCADE'))
            else:
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{label}`"))
    _created.clear()
