"""Shared fixtures: one empty database per test, on every configured backend
(see support/databases.py for how they are made and which variables select them)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from support.clock import AdvancingClock
from support.web import PUBLIC_URL, SECRET, SyncClient
from syncstorage.app import create_app
from syncstorage.settings import Settings
from syncstorage.storage.sql.migrate import upgrade

from support import databases
from support.databases import BACKENDS, drop_created_databases, fresh_database_url
from support.mock_fxa import MockFxA
from support.smtp import MailCatcher


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
def mail():
    """A real SMTP server on loopback that keeps the mails it receives
    (the accounts' confirmation codes); `mail.smtp_settings` point a server at it."""
    with MailCatcher() as catcher:
        yield catcher


@pytest.fixture
def redis_url() -> str:
    """SYNCSTORAGE_TEST_REDIS_URL, answering; skipped without it (failed
    under SYNCSTORAGE_TEST_REQUIRE_BACKENDS=1)."""
    return databases.redis_url()


@pytest.fixture
def clock() -> AdvancingClock:
    """The clock of every server `make_client` builds in the test."""
    return AdvancingClock()


@pytest.fixture
def make_client(tmp_path, clock) -> Iterator:
    clients: list[TestClient] = []

    def make(database_url: str, uid: int = 1, *, migrate: bool = True, **overrides) -> SyncClient:
        overrides.setdefault("public_url", PUBLIC_URL)
        settings = Settings(
            master_secret=[SECRET], database_url=database_url, data_dir=tmp_path, **overrides
        )
        if migrate:
            upgrade(settings.effective_database_url)  # the CLI does this before serving
        http = TestClient(create_app(settings, clock=clock), base_url=settings.effective_public_url)
        http.__enter__()  # runs the lifespan; closed below
        clients.append(http)
        return SyncClient(http, settings, uid)

    yield make
    for http in clients:
        http.__exit__(None, None, None)
