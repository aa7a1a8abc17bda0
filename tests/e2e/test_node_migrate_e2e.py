"""`syncstorage node migrate` with real server processes over HTTP: a
tokenserver and two storage nodes; a user synced to node A is moved to
node B. A then answers that user 503 with Retry-After 300 (and serves its
other user), a new token points at B with the same uid, and B answers the
same records with the same timestamps (docs/fleet.md)."""

from __future__ import annotations

import secrets

import pytest

from e2e.test_firefox_flow import batch_upload, fresh_start, history_records
from e2e.test_tokenserver_e2e import node_command, sign_in
from support.client import SyncClient
from support.server import invoke_cli, start_server

pytestmark = pytest.mark.e2e

READS = [
    "info/collections",
    "info/collection_counts",
    "storage/meta/global",
    "storage/crypto/keys",
    "storage/history?full=1&sort=index",
    "storage/tabs?full=1",
    "storage/custom-things?full=1",
]


@pytest.fixture
def fleet(tmp_path, fxa, database_url):
    """A tokenserver-only process and two storage nodes: A on the backend
    under test with allow_migration on, B on SQLite."""
    secret = secrets.token_hex(32)
    tokenserver = start_server(
        tmp_path / "tokenserver", master_secret=secret, storage_enabled="false", fxa_oauth_server_url=fxa.url
    )
    node_a = start_server(
        tmp_path / "node-a", database_url=database_url, master_secret=secret,
        tokenserver_enabled="false", allow_migration="true",
    )
    node_b = start_server(
        tmp_path / "node-b", database_url=f"sqlite:///{tmp_path / 'node-b.db'}", master_secret=secret,
        tokenserver_enabled="false",
    )
    yield tokenserver, node_a, node_b
    for server in (tokenserver, node_a, node_b):
        server.stop()
        print(server.log())


def snapshot(client: SyncClient) -> dict[str, tuple[int, str | None, object]]:
    """Status, X-Last-Modified and body of every read Firefox makes."""
    answers = {}
    for path in READS:
        response = client.get(path)
        answers[path] = (response.status_code, response.headers.get("X-Last-Modified"), response.json())
    return answers


def test_a_moved_user_continues_on_the_new_node(fleet, fxa):
    tokenserver, node_a, node_b = fleet
    node_command(tokenserver, "add", node_a.public_url, "--capacity", "10")
    node_command(tokenserver, "add", node_b.public_url, "--capacity", "10", "--downed")
    moving, staying = secrets.token_hex(16), secrets.token_hex(16)
    on_a = sign_in(tokenserver, fxa, moving)
    other = sign_in(tokenserver, fxa, staying)
    assert on_a["api_endpoint"].startswith(node_a.public_url) and other["api_endpoint"].startswith(node_a.public_url)
    node_command(tokenserver, "update", node_b.public_url, "--not-downed")

    with SyncClient.from_tokenserver(on_a) as client:
        fresh_start(client, "moving-sync-id")
        batch_upload(client, "history", history_records(250, "m-"), since="0")
        assert client.put("storage/tabs/t1", json={"payload": "tab", "ttl": 3600}).status_code == 200
        assert client.put("storage/custom-things/x", json={"payload": "custom", "sortindex": -3}).status_code == 200
        before = snapshot(client)
    with SyncClient.from_tokenserver(other) as client:
        assert client.put("storage/bookmarks/b", json={"payload": "stays"}).status_code == 200

    env = {
        **tokenserver.env,
        "SYNCSTORAGE_ALLOW_MIGRATION": "true",
        "SYNCSTORAGE_DATABASE_URL": node_a.env["SYNCSTORAGE_DATABASE_URL"],
        "SYNCSTORAGE_TOKENSERVER_DATABASE_URL": f"sqlite:///{tokenserver.data_dir / 'syncstorage.db'}",
    }
    result = invoke_cli(
        "node", "migrate", "--from", node_a.public_url, "--to", node_b.public_url, "--users", "1",
        "--to-database", node_b.env["SYNCSTORAGE_DATABASE_URL"], env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "moved 1 users (254 records)" in result.stdout

    # the old node refuses the moved user on every route, and serves the other
    with SyncClient.from_tokenserver(on_a) as client:
        for path in [*READS, "storage/tabs/t2"]:
            refused = client.get(path) if path != "storage/tabs/t2" else client.put(path, json={"payload": "late"})
            assert (refused.status_code, refused.headers.get("Retry-After"), refused.text) == (503, "300", "0"), path
    with SyncClient.from_tokenserver(other) as client:
        assert client.get("storage/bookmarks/b").json()["payload"] == "stays"

    # a new token: node B, the same uid, the same answers
    moved = sign_in(tokenserver, fxa, moving)
    assert moved["uid"] == on_a["uid"]
    assert moved["api_endpoint"] == f"{node_b.public_url}/1.5/{on_a['uid']}"
    with SyncClient.from_tokenserver(moved) as client:
        assert snapshot(client) == before
        assert client.put("storage/tabs/t2", json={"payload": "next sync"}).status_code == 200
    assert sign_in(tokenserver, fxa, staying)["api_endpoint"].startswith(node_a.public_url)
