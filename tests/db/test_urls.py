"""The database URL alone picks the backend and, unless given, the driver."""

from __future__ import annotations

import importlib.util

import pytest

from syncstorage import db


@pytest.mark.parametrize(
    ("given", "driver"),
    [
        ("postgresql://u@h/db", "postgresql+psycopg"),
        ("postgres://u@h/db", "postgresql+psycopg"),
        ("postgresql+psycopg2://u@h/db", "postgresql+psycopg2"),
        ("mysql+mysqldb://u@h/db", "mysql+mysqldb"),
        ("mysql+pymysql://u@h/db", "mysql+pymysql"),
        ("sqlite:////tmp/x.db", "sqlite+pysqlite"),
    ],
)
def test_driver_choice(given, driver):
    _, url = db.for_url(given, lock_timeout=1)
    assert url.drivername == driver


@pytest.mark.parametrize("given", ["mysql://u@h/db", "mariadb://u@h/db"])
@pytest.mark.parametrize(("installed", "driver"), [(True, "mysql+mysqldb"), (False, "mysql+pymysql")])
def test_plain_mysql_urls_get_mysqlclient_when_installed(given, installed, driver, monkeypatch):
    find_spec = importlib.util.find_spec

    def fake_find_spec(name, *args):
        if name == "MySQLdb":
            return object() if installed else None
        return find_spec(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", fake_find_spec)
    _, url = db.for_url(given, lock_timeout=1)
    assert url.drivername == driver


def test_mysql_gets_utf8mb4():
    _, url = db.for_url("mysql://u@h/db", lock_timeout=1)
    assert url.query["charset"] == "utf8mb4"


def test_unknown_database_is_refused():
    with pytest.raises(ValueError, match="unsupported database"):
        db.for_url("oracle://u@h/db", lock_timeout=1)


def test_in_memory_sqlite_is_refused():
    from syncstorage.storage.sql import SQLStorage

    with pytest.raises(ValueError, match="database file"):
        SQLStorage("sqlite://")
