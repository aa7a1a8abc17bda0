"""Fixtures of the accounts tests: a real server process with the built-in
accounts server on (sign-up open), on SQLite and every configured backend."""

from __future__ import annotations

import secrets

import pytest

from support.onepw import OnepwClient
from support.server import RunningServer, free_port, start_server


def start_accounts_server(tmp_path, database_url: str, **settings: str) -> RunningServer:
    # An accounts server that nothing listens at: the tokenserver must not
    # need Mozilla's (or any) accounts server for the built-in accounts' tokens.
    settings.setdefault("fxa_oauth_server_url", f"http://127.0.0.1:{free_port()}")
    return start_server(
        tmp_path / "data",
        database_url=database_url,
        master_secret=secrets.token_hex(32),
        accounts_enabled="true",
        accounts_signup=settings.pop("accounts_signup", "open"),
        **settings,
    )


@pytest.fixture
def accounts_server(database_url, tmp_path) -> RunningServer:
    running = start_accounts_server(tmp_path, database_url)
    yield running
    running.stop()
    print(running.log())  # shown by pytest when the test failed


@pytest.fixture
def sqlite_accounts_server(sqlite_url, tmp_path) -> RunningServer:
    running = start_accounts_server(tmp_path, sqlite_url)
    yield running
    running.stop()
    print(running.log())


@pytest.fixture
def client(accounts_server) -> OnepwClient:
    with_client = OnepwClient(accounts_server.base_url)
    yield with_client
    with_client.close()


@pytest.fixture
def sqlite_client(sqlite_accounts_server) -> OnepwClient:
    with_client = OnepwClient(sqlite_accounts_server.base_url)
    yield with_client
    with_client.close()


def new_email() -> str:
    return f"user-{secrets.token_hex(4)}@example.org"
