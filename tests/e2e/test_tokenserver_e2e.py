"""The tokenserver end to end, with real server processes (issue 4, "Tests it
must have"): Firefox trades a mock-FxA OAuth token for a storage token, then
syncs with it over real HTTP; a key reset moves the user to a fresh uid; bad
OAuth tokens are refused. Then several processes: one tokenserver and two
storage nodes, nodes registered with the real `syncstorage node` commands
(auth-and-tokens §6, §9-§11, §13)."""

from __future__ import annotations

import json
import secrets
from urllib.parse import urlsplit

import httpx
import pytest

from support.client import SyncClient
from support.server import RunningServer, free_port, invoke_cli, start_server
from e2e.test_firefox_flow import batch_upload, download_all, fresh_start, history_records
from syncstorage.tokenserver.identifiers import fxa_kid

pytestmark = pytest.mark.e2e

TOKEN_PATH = "/1.0/sync/1.5"


def token_request(server: RunningServer, bearer: str, key_id: str) -> httpx.Response:
    """GET <public_url>/1.0/sync/1.5 as Firefox sends it (§6.2)."""
    return httpx.get(
        server.public_url + TOKEN_PATH,
        headers={"Authorization": f"Bearer {bearer}", "X-KeyID": key_id},
        timeout=30,
    )


def sign_in(server: RunningServer, fxa, fxa_uid: str, *, kca: int = 1234, state: str = "aaaa") -> dict:
    """A token for `fxa_uid` whose keys changed at `kca` with client state `state` (hex)."""
    response = token_request(server, fxa.access_token(fxa_uid), fxa_kid(kca, state))
    assert response.status_code == 200, response.text
    return response.json()


def sync_like_firefox(credentials: dict) -> None:
    """The first sync of a device (test_firefox_flow): empty info/collections,
    meta/global and crypto/keys, a batched upload committed, a full download."""
    with SyncClient.from_tokenserver(credentials) as client:
        info = client.get("info/collections")
        assert info.status_code == 200, info.text
        assert info.json() == {}
        fresh_start(client, "tokenserver-e2e")
        records = history_records(250, "ts-")
        committed = batch_upload(client, "history", records, since="0")
        assert f"{client.get('info/collections').json()['history']:.2f}" == committed
        downloaded, _ = download_all(client, "history")
        assert sorted(r["id"] for r in downloaded) == sorted(r["id"] for r in records)
        meta = client.get("storage/meta/global").json()
        assert json.loads(meta["payload"])["syncID"] == "tokenserver-e2e"


def assert_refused(response: httpx.Response, status: str = "invalid-credentials") -> None:
    assert response.status_code == 401, response.text
    assert response.json()["status"] == status


@pytest.fixture
def combined(tmp_path, fxa):
    """combined(database_url, **settings): storage + tokenserver in one process."""
    started: list[RunningServer] = []

    def start(database_url: str | None, **settings) -> RunningServer:
        server = start_server(
            tmp_path / "combined",
            database_url=database_url,
            master_secret=secrets.token_hex(32),
            fxa_oauth_server_url=fxa.url,
            **settings,
        )
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
        print(server.log())  # shown by pytest when the test failed


def test_token_then_sync_then_key_reset(combined, fxa, database_url):
    server = combined(database_url)
    fxa_uid = secrets.token_hex(16)

    credentials = sign_in(server, fxa, fxa_uid, kca=1234, state="aaaa")
    assert credentials["api_endpoint"] == f"{server.public_url}/1.5/{credentials['uid']}"
    assert credentials["duration"] == 3600
    assert credentials["hashalg"] == "sha256"
    sync_like_firefox(credentials)

    # Signing in again with the same keys: same uid, the data is still there.
    again = sign_in(server, fxa, fxa_uid, kca=1234, state="aaaa")
    assert again["uid"] == credentials["uid"]
    with SyncClient.from_tokenserver(again) as client:
        assert set(client.get("info/collections").json()) == {"meta", "crypto", "history"}

    # Key reset (§9.4): newer keys_changed_at, other client state -> new uid, empty storage.
    reset = sign_in(server, fxa, fxa_uid, kca=2345, state="bbbb")
    assert reset["uid"] != credentials["uid"]
    assert reset["api_endpoint"] == f"{server.public_url}/1.5/{reset['uid']}"
    with SyncClient.from_tokenserver(reset) as client:
        assert client.get("info/collections").json() == {}
        # and the new token does not open the old uid's storage
        old_root = credentials["api_endpoint"]
        with SyncClient.from_tokenserver(reset, root=old_root) as stranger:
            assert stranger.get("info/collections").status_code == 401
    # The old client state is stale now (§9.3 rule 3).
    assert_refused(token_request(server, fxa.access_token(fxa_uid), fxa_kid(2345, "aaaa")), "invalid-client-state")


def test_bad_oauth_tokens_are_refused(combined, fxa, sqlite_url):
    server = combined(sqlite_url)
    fxa_uid = secrets.token_hex(16)
    key_id = fxa_kid(1234, "aaaa")
    assert_refused(token_request(server, fxa.access_token(fxa_uid, expires_in=-120), key_id))
    assert_refused(token_request(server, fxa.access_token(fxa_uid, scope="profile"), key_id))
    assert_refused(token_request(server, fxa.access_token(fxa_uid, scope="https://identity.mozilla.com/apps/oldsyncx"), key_id))
    assert_refused(token_request(server, "not-a-token-at-all", key_id))
    # and the same user with a good token is fine (the refusals stored nothing bad)
    assert token_request(server, fxa.access_token(fxa_uid), key_id).status_code == 200


def test_public_url_with_path_prefix(combined, fxa, sqlite_url):
    port = free_port()
    public_url = f"http://127.0.0.1:{port}/sync"
    server = combined(sqlite_url, port=port, public_url=public_url)
    assert server.public_url == public_url
    credentials = sign_in(server, fxa, secrets.token_hex(16))
    assert credentials["api_endpoint"] == f"{public_url}/1.5/{credentials['uid']}"
    assert urlsplit(credentials["api_endpoint"]).path.startswith("/sync/1.5/")
    sync_like_firefox(credentials)


# --- several processes: one tokenserver, two storage nodes ---


@pytest.fixture
def cluster(tmp_path, fxa):
    """A tokenserver-only process and two storage-only processes sharing one
    master secret; each has its own (SQLite) database. The storage nodes are
    not registered: storage-only processes never touch the tokenserver tables."""
    secret = secrets.token_hex(32)
    tokenserver = start_server(
        tmp_path / "tokenserver", master_secret=secret, storage_enabled="false", fxa_oauth_server_url=fxa.url
    )
    nodes = [
        start_server(tmp_path / f"node-{name}", master_secret=secret, tokenserver_enabled="false")
        for name in ("a", "b")
    ]
    yield tokenserver, *nodes
    for server in (tokenserver, *nodes):
        server.stop()
        print(server.log())


def node_command(tokenserver: RunningServer, *args: str) -> str:
    """`syncstorage node ARGS` on the tokenserver's database, as an operator runs it."""
    result = invoke_cli("node", *args, env=tokenserver.env)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def listed_nodes(tokenserver: RunningServer) -> dict[str, list[str]]:
    """`node list` piped: a `# title` line, the column names, then a line per node."""
    title, header, *rows = node_command(tokenserver, "list").splitlines()
    assert (title, header.split("\t")[:2]) == ("# storage nodes", ["id", "node"])
    return {row.split("\t")[1]: row.split("\t") for row in rows}


def test_multi_node(cluster, fxa):
    tokenserver, node_a, node_b = cluster
    assert listed_nodes(tokenserver) == {}  # nobody registered itself
    node_command(tokenserver, "add", node_a.public_url, "--capacity", "1")
    node_command(tokenserver, "add", node_b.public_url, "--capacity", "2")

    # B is emptier and has more slots, but it is down: the first user goes to A.
    node_command(tokenserver, "update", node_b.public_url, "--downed")
    user_a = secrets.token_hex(16)
    on_a = sign_in(tokenserver, fxa, user_a)
    assert on_a["api_endpoint"] == f"{node_a.public_url}/1.5/{on_a['uid']}"
    # A is full and B down: no node for a new user (§10 step 3).
    full = token_request(tokenserver, fxa.access_token(secrets.token_hex(16)), fxa_kid(1234, "aaaa"))
    assert full.status_code == 503, full.text
    assert full.json()["status"] == "internal-error"

    node_command(tokenserver, "update", node_b.public_url, "--not-downed")
    on_b = [sign_in(tokenserver, fxa, secrets.token_hex(16)) for _ in range(2)]
    assert [c["api_endpoint"] for c in on_b] == [f"{node_b.public_url}/1.5/{c['uid']}" for c in on_b]
    assert token_request(tokenserver, fxa.access_token(secrets.token_hex(16)), fxa_kid(1234, "aaaa")).status_code == 503
    listed = listed_nodes(tokenserver)
    assert (listed[node_a.public_url][3], listed[node_b.public_url][3]) == ("1", "2")  # current_load

    # Each token opens storage on its own node only (§5 step 6).
    sync_like_firefox(on_a)
    with SyncClient.from_tokenserver(on_a, root=f"{node_b.public_url}/1.5/{on_a['uid']}") as elsewhere:
        assert elsewhere.get("info/collections").status_code == 401
    with SyncClient.from_tokenserver(on_b[0]) as home:
        assert home.get("info/collections").status_code == 200
    with SyncClient.from_tokenserver(on_b[0], root=f"{node_a.public_url}/1.5/{on_b[0]['uid']}") as elsewhere:
        assert elsewhere.get("info/collections").status_code == 401

    # Draining A moves its user, at the next sign-in, to a new uid on B (given room there).
    node_command(tokenserver, "update", node_b.public_url, "--capacity", "3", "--available", "1")
    node_command(tokenserver, "drain", node_a.public_url)
    moved = sign_in(tokenserver, fxa, user_a)
    assert moved["uid"] != on_a["uid"]
    assert moved["api_endpoint"] == f"{node_b.public_url}/1.5/{moved['uid']}"
    with SyncClient.from_tokenserver(moved) as client:
        assert client.get("info/collections").json() == {}  # Firefox uploads its data again

    # The tokenserver-only process serves no storage.
    with SyncClient.from_tokenserver(on_a, root=f"{tokenserver.public_url}/1.5/{on_a['uid']}") as nowhere:
        assert nowhere.get("info/collections").status_code == 404
