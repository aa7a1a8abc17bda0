"""Fixtures of the end-to-end tests: a real server process per test, on
SQLite and on every configured database backend (`database_url`)."""

from __future__ import annotations

import secrets

import pytest

from support.client import SyncClient, mint_token
from support.server import RunningServer, start_server


@pytest.fixture
def server(database_url, tmp_path) -> RunningServer:
    running = start_server(
        tmp_path / "data", database_url=database_url, master_secret=secrets.token_hex(32)
    )
    yield running
    running.stop()
    print(running.log())  # shown by pytest when the test failed


@pytest.fixture
def make_client(server):
    """make_client(uid) -> a new device of user `uid` with its own token."""
    clients: list[SyncClient] = []

    def make(uid: int) -> SyncClient:
        token, key = mint_token(server.master_secret, uid, server.public_url)
        client = SyncClient(server.base_url, uid, token, key)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
