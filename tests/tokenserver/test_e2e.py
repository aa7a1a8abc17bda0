"""End to end, in-process: a token from the tokenserver (for a mock-FxA
OAuth token) signs storage requests against the combined app; a key reset
moves the user to a fresh uid; with several nodes, a token for node A is
refused by node B (auth-and-tokens §1, §5 step 6, §9.4, §13.1)."""

from __future__ import annotations

import base64
from urllib.parse import urlsplit

import pytest
from starlette.testclient import TestClient

from syncstorage.app import create_app
from syncstorage.storage.sql import migrate
from syncstorage.tokenserver import admin
from syncstorage.tokenserver.db import make_engine
from support.tokenserver import FXA_UID, Hawk, make_settings


def key_id(kca: int, client_state_hex: str) -> str:
    state = base64.urlsafe_b64encode(bytes.fromhex(client_state_hex)).rstrip(b"=").decode()
    return f"{kca:013d}-{state}"


@pytest.fixture
def serve(database_url, fxa):
    """serve(**settings) -> TestClient of create_app, lifespan entered."""
    migrate.upgrade(database_url)
    clients = []

    def serve(**overrides) -> TestClient:
        settings = make_settings(database_url, fxa.url, **overrides)
        origin = "/".join(settings.effective_public_url.split("/")[:3])
        client = TestClient(create_app(settings), base_url=origin)
        client.__enter__()
        clients.append(client)
        return client

    yield serve
    for client in clients:
        client.__exit__(None, None, None)


def get_token(client, fxa, *, generation: int, client_state: str, url="/1.0/sync/1.5", **claims) -> dict:
    response = client.get(url, headers={
        "Authorization": "Bearer " + fxa.access_token(FXA_UID, generation=generation, **claims),
        "X-KeyID": key_id(generation, client_state),
    })
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("public_url", ["http://localhost:8000", "https://sync.example.org/sync"])
def test_firefox_flow_then_key_reset(serve, fxa, public_url):
    server = serve(public_url=public_url)
    prefix = urlsplit(public_url).path
    credentials = get_token(server, fxa, generation=1000, client_state="aaaa", url=prefix + "/1.0/sync/1.5")
    uid = credentials["uid"]
    endpoint = credentials["api_endpoint"]
    assert endpoint == f"{public_url}/1.5/{uid}"  # the server registered itself as the node
    auth = Hawk(credentials)

    assert server.get(endpoint + "/info/collections", auth=auth).json() == {}
    put = server.put(endpoint + "/storage/meta/global", auth=auth,
                     json={"payload": '{"syncID": "abc", "storageVersion": 5}'})
    assert put.status_code == 200, put.text
    posted = server.post(endpoint + "/storage/bookmarks", auth=auth,
                         json=[{"id": "b1", "payload": "one"}, {"id": "b2", "payload": "two"}])
    assert sorted(posted.json()["success"]) == ["b1", "b2"]
    assert set(server.get(endpoint + "/info/collections", auth=auth).json()) == {"meta", "bookmarks"}
    # Unsigned, or signed with a made-up key: refused.
    assert server.get(endpoint + "/info/collections").status_code == 401
    assert server.get(endpoint + "/info/collections", auth=Hawk({**credentials, "key": "x" * 44})).status_code == 401

    # The same keys again: same uid, data still there.
    again = get_token(server, fxa, generation=1000, client_state="aaaa", url=prefix + "/1.0/sync/1.5")
    assert again["uid"] == uid
    assert set(server.get(endpoint + "/info/collections", auth=Hawk(again)).json()) == {"meta", "bookmarks"}

    # Key reset (password reset): a new uid with an empty storage.
    reset = get_token(server, fxa, generation=2000, client_state="bbbb", url=prefix + "/1.0/sync/1.5")
    assert reset["uid"] != uid
    assert reset["api_endpoint"] == f"{public_url}/1.5/{reset['uid']}"
    assert server.get(reset["api_endpoint"] + "/info/collections", auth=Hawk(reset)).json() == {}
    # Its token cannot read the old uid's data.
    assert server.get(endpoint + "/info/collections", auth=Hawk(reset)).status_code == 401
    # And the old keys are now refused by the tokenserver.
    stale = server.get(prefix + "/1.0/sync/1.5", headers={
        "Authorization": "Bearer " + fxa.access_token(FXA_UID, generation=2000),
        "X-KeyID": key_id(2000, "aaaa")})
    assert stale.status_code == 401 and stale.json()["status"] == "invalid-client-state"


def test_storage_only_and_tokenserver_only(serve, fxa, database_url):
    storage_only = serve(public_url="http://node-a.test:8000", tokenserver_enabled=False)
    assert storage_only.get("/1.0/sync/1.5").status_code == 404
    tokenserver_only = serve(public_url="http://tokens.test:8000", storage_enabled=False)
    assert tokenserver_only.get("/1.5/1/info/collections").status_code == 404
    # Neither registered itself as a node.
    engine = make_engine(database_url)
    assert admin.list_nodes(engine) == []
    engine.dispose()
    response = tokenserver_only.get("/1.0/sync/1.5", headers={
        "Authorization": "Bearer " + fxa.access_token(FXA_UID), "X-KeyID": key_id(1, "aa")})
    assert response.status_code == 503  # no node to assign


def test_multi_node(serve, fxa, database_url):
    """One tokenserver and two storage nodes: users spread by capacity, each
    node accepts only tokens issued for it, a downed node gets no new users."""
    tokens = serve(public_url="http://tokens.test:8000", storage_enabled=False)
    nodes = {url: serve(public_url=url, tokenserver_enabled=False)
             for url in ("http://node-a.test:8000", "http://node-b.test:8000")}
    engine = make_engine(database_url)
    admin.add_node(engine, "http://node-a.test:8000", 10)
    admin.add_node(engine, "http://node-b.test:8000", 30)

    users = []
    for n in range(4):
        response = tokens.get("/1.0/sync/1.5", headers={
            "Authorization": "Bearer " + fxa.access_token(f"user{n}"), "X-KeyID": key_id(1, "aa")})
        assert response.status_code == 200, response.text
        users.append(response.json())
    node_of = [u["api_endpoint"].split("/1.5/")[0] for u in users]
    assert sorted(node_of) == ["http://node-a.test:8000"] + ["http://node-b.test:8000"] * 3

    for credentials, home in zip(users, node_of):
        path = f"/1.5/{credentials['uid']}/info/collections"
        for url, client in nodes.items():
            status = client.get(url + path, auth=Hawk(credentials)).status_code
            assert status == (200 if url == home else 401), (home, url)

    admin.update_node(engine, "http://node-b.test:8000", downed=True)
    for n in range(4, 6):
        response = tokens.get("/1.0/sync/1.5", headers={
            "Authorization": "Bearer " + fxa.access_token(f"user{n}"), "X-KeyID": key_id(1, "aa")})
        assert response.json()["api_endpoint"].startswith("http://node-a.test:8000/1.5/")
    engine.dispose()
