"""Empty test databases on every configured backend (imported by conftest.py
and by suites that need more than the `database_url` fixture).

SQLite always runs. PostgreSQL and MySQL/MariaDB run when their URL is given:

    SYNCSTORAGE_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/test
    SYNCSTORAGE_TEST_MYSQL_URL=mysql://root@127.0.0.1:3306/test

Without a URL those tests skip with the reason. With
SYNCSTORAGE_TEST_REQUIRE_BACKENDS=1 (CI sets it) a missing URL or an
unreachable server fails the run instead of skipping.

Each test gets a database of its own: a fresh SQLite file, or a database
(MySQL) / schema (PostgreSQL) named after the test process, dropped and
re-created before the test, so tests never see each other's rows, and
concurrent test runs on one machine never share a database. They are dropped
again when the run ends (`drop_created_databases`).
"""

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

BACKENDS = ("sqlite", "postgresql", "mysql")
_URL_VARS = {
    "postgresql": "SYNCSTORAGE_TEST_POSTGRES_URL",
    "mysql": "SYNCSTORAGE_TEST_MYSQL_URL",
}
_ADMIN_DRIVERS = {"postgresql": "postgresql+psycopg", "mysql": "mysql+pymysql"}


def _require_backends() -> bool:
    return os.environ.get("SYNCSTORAGE_TEST_REQUIRE_BACKENDS", "") not in ("", "0")


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
            reason = f"{backend} tests need {var} (e.g. {'postgresql://postgres@127.0.0.1:5432/test' if backend == 'postgresql' else 'mysql://root@127.0.0.1:3306/test'})"
            if _require_backends():
                pytest.fail(f"SYNCSTORAGE_TEST_REQUIRE_BACKENDS is set but {reason}")
            pytest.skip(reason)
        url = make_url(raw).set(drivername=_ADMIN_DRIVERS[backend])
        engine = sa.create_engine(url, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except sa.exc.OperationalError as exc:
            reason = f"{backend} at {var} is unreachable: {exc.orig}"
            if _require_backends():
                pytest.fail(reason)
            pytest.skip(reason)
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
