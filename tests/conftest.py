"""Shared fixtures: one empty database per test, on every configured backend
(see databases.py for how they are made and which variables select them)."""

from __future__ import annotations

import pytest

from databases import BACKENDS, drop_created_databases, fresh_database_url


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
