"""Shared fixtures: one empty database per test, on every configured backend
(see support/databases.py for how they are made and which variables select them)."""

from __future__ import annotations

import pytest

from support import databases
from support.databases import BACKENDS, drop_created_databases, fresh_database_url
from support.mock_fxa import MockFxA


def pytest_sessionfinish(session, exitstatus):
    drop_created_databases()


@pytest.fixture(params=BACKENDS)
def backend_name(request) -> str:
    return request.param


@pytest.fixture
def database_url(backend_name, tmp_path) -> str:
    """An empty database on each backend in turn."""
    return fresh_database_url(backend_name, tmp_path)


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    """An empty SQLite database, for tests that are about something else."""
    return fresh_database_url("sqlite", tmp_path)


@pytest.fixture
def fxa():
    """A mock Firefox Accounts server on loopback (tokenserver and metrics tests)."""
    mock = MockFxA()
    yield mock
    mock.close()


@pytest.fixture
def redis_url() -> str:
    """SYNCSTORAGE_TEST_REDIS_URL, answering; skipped without it (failed
    under SYNCSTORAGE_TEST_REQUIRE_BACKENDS=1)."""
    return databases.redis_url()
