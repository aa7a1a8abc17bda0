"""What an operator does to a running server, with a real Firefox syncing
through it (issue 12): restarts behind a reverse-proxy path prefix, a
master-secret rotation, draining a storage node, and a user's key change."""

from __future__ import annotations

import json
import secrets

import pytest

from support.server import RunningServer, free_port, invoke_cli
from firefox import actions
from firefox.actions import Steps
from firefox.server_side import collection_counts, storage_client

pytestmark = pytest.mark.e2e  # real server and browser processes


def request_statuses(server: RunningServer) -> dict[str, list[int]]:
    """{route: [status, ...]} of the requests in the server's log."""
    statuses: dict[str, list[int]] = {}
    for line in server.log().splitlines():
        entry = json.loads(line) if line.startswith("{") else {}
        if entry.get("logger") == "syncstorage.request":
            statuses.setdefault(entry["route"], []).append(entry["status"])
    return statuses


def test_restarts_behind_a_path_prefix_and_a_master_secret_rotation(start_sync_server, make_firefox, fxa, sqlite_url):
    step = Steps()
    port = free_port()
    old, new = secrets.token_hex(32), secrets.token_hex(32)
    settings = {"port": port, "public_url": f"http://127.0.0.1:{port}/sync"}
    # The server strips the prefix itself: Firefox talks to .../sync/... directly.
    server = start_sync_server(sqlite_url, master_secret=old, **settings)
    account = fxa.create_account("operator@example.org")
    firefox = make_firefox("profile", server)
    actions.sign_in(firefox, fxa, account)
    actions.add_bookmarks(firefox, "Before the restart", 100, "https://before.example/")
    actions.sync_ok(firefox)
    cluster_url = firefox.run(actions.IMPORTS + "return Weave.Service.clusterURL;")
    assert cluster_url.startswith(f"http://127.0.0.1:{port}/sync/1.5/"), cluster_url
    before = collection_counts(server, fxa, account)
    assert before["bookmarks"] >= 101
    step("signed in and synced behind /sync")

    # Restarted with both secrets, the newer last: Firefox's token, signed
    # with the old one, keeps working; it asks for no new token.
    server.stop()
    server = start_sync_server(sqlite_url, master_secret=json.dumps([old, new]), **settings)
    actions.add_history(firefox, 300, "https://after.example/")
    actions.sync_ok(firefox)
    statuses = request_statuses(server)
    assert "tokenserver" not in statuses, statuses
    assert {s for route, answered in statuses.items() for s in answered} <= {200, 202}, statuses  # 202: batch parts
    both = collection_counts(server, fxa, account)  # this token is signed with the new secret
    assert both["history"] == before.get("history", 0) + 300
    assert both["bookmarks"] == before["bookmarks"]
    step("restart with both secrets")

    # Restarted with only the new secret: the old token is refused, Firefox
    # gets a new one by itself and syncs on.
    server.stop()
    server = start_sync_server(sqlite_url, master_secret=new, **settings)
    actions.add_logins(firefox, {"https://rotated.example": ("user", "pw")})
    status = actions.sync(firefox)
    if status["ran"] != "finish" or status["service"] != "success.status_ok":
        print("first sync after the old secret went:", status)
        actions.sync_ok(firefox)  # Firefox may need a second sync after a 401
    statuses = request_statuses(server)
    assert statuses["tokenserver"] == [200], statuses
    assert 401 in statuses["info/collections"], statuses  # the old token, refused once
    after = collection_counts(server, fxa, account)
    assert after["passwords"] == 1
    assert after["history"] == both["history"]
    step("restart with only the new secret")


def node_command(tokenserver, *args: str) -> None:
    result = invoke_cli("node", *args, env=tokenserver.env)
    assert result.returncode == 0, result.stdout + result.stderr


def two_nodes(start_sync_server, **node_a_settings) -> tuple[RunningServer, RunningServer, RunningServer]:
    """A tokenserver and two storage nodes as separate processes, A taking
    new users, B registered but down."""
    secret = secrets.token_hex(32)
    tokenserver = start_sync_server(None, "tokenserver", master_secret=secret, storage_enabled="false")
    node_a = start_sync_server(None, "node-a", master_secret=secret, tokenserver_enabled="false", **node_a_settings)
    node_b = start_sync_server(None, "node-b", master_secret=secret, tokenserver_enabled="false")
    node_command(tokenserver, "add", node_a.public_url, "--capacity", "10")
    node_command(tokenserver, "add", node_b.public_url, "--capacity", "10", "--downed")
    return tokenserver, node_a, node_b


def synced_to_node_a(make_firefox, fxa, account, tokenserver):
    """A Firefox signed in to `account` that has synced 200 bookmarks and
    300 history pages."""
    firefox = make_firefox("profile", tokenserver)
    actions.sign_in(firefox, fxa, account)
    actions.add_bookmarks(firefox, "Moving", 200, "https://moving.example/")
    actions.add_history(firefox, 300, "https://moving-history.example/")
    actions.sync_ok(firefox)
    return firefox


def test_drained_node_moves_firefox_to_another(start_sync_server, make_firefox, fxa):
    """Tokenserver and two storage nodes as separate processes; the user's
    node is drained with the CLI and Firefox, on its next token, uploads
    everything again to the other node."""
    step = Steps()
    tokenserver, node_a, node_b = two_nodes(start_sync_server)
    account = fxa.create_account("drained@example.org")
    firefox = synced_to_node_a(make_firefox, fxa, account, tokenserver)
    with storage_client(tokenserver, fxa, account) as client:
        assert client.root.startswith(node_a.public_url + "/1.5/")
        on_a = client.get("info/collection_counts").json()
    assert on_a["history"] == 300 and on_a["bookmarks"] >= 201
    step("synced to node A")

    node_command(tokenserver, "update", node_b.public_url, "--not-downed")
    node_command(tokenserver, "drain", node_a.public_url)
    # Firefox asks for a new token when its old one expires or the browser
    # restarts; a restart is the quicker of the two.
    firefox.stop()
    firefox.start()
    actions.sync_ok(firefox)
    with storage_client(tokenserver, fxa, account) as client:
        assert client.root.startswith(node_b.public_url + "/1.5/")
        on_b = client.get("info/collection_counts").json()
    print("records on node A:", on_a, "then on node B:", on_b)
    assert on_b["history"] == on_a["history"]
    assert on_b["bookmarks"] == on_a["bookmarks"]
    assert on_b["clients"] == 1
    step("restarted, moved to node B, uploaded again")


def test_migrated_user_continues_on_the_new_node_without_uploading(start_sync_server, make_firefox, fxa):
    """As the drain above, but the user is moved with `node migrate`: node A
    refuses the old token with 503 Retry-After 300 (Firefox backs off,
    wipes nothing), and after a restart (a new token: node B) Firefox syncs
    on B without uploading its data again or resetting the server."""
    step = Steps()
    tokenserver, node_a, node_b = two_nodes(start_sync_server, allow_migration="true")
    account = fxa.create_account("migrated@example.org")
    firefox = synced_to_node_a(make_firefox, fxa, account, tokenserver)
    with storage_client(tokenserver, fxa, account) as client:
        assert client.root.startswith(node_a.public_url + "/1.5/")
        on_a = client.get("info/collections").json()
        counts_a = client.get("info/collection_counts").json()
    assert counts_a["history"] == 300 and counts_a["bookmarks"] >= 201
    step("synced to node A")

    node_command(tokenserver, "update", node_b.public_url, "--not-downed")
    node_command(tokenserver, "update", node_a.public_url, "--available", "0")
    result = invoke_cli(
        "node", "migrate", "--from", node_a.public_url, "--to", node_b.public_url,
        "--from-database", f"sqlite:///{node_a.data_dir / 'syncstorage.db'}",
        "--to-database", f"sqlite:///{node_b.data_dir / 'syncstorage.db'}",
        env={**tokenserver.env, "SYNCSTORAGE_ALLOW_MIGRATION": "true"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "moved 1 users" in result.stdout
    step("moved to node B")

    # Firefox's token still names A: refused, and Firefox backs off
    status = actions.sync(firefox)
    assert status["service"] != "success.status_ok", status
    assert 503 in request_statuses(node_a)["info/collections"]
    firefox.stop()
    firefox.start()  # a new token, for node B
    actions.add_bookmarks(firefox, "After the move", 3, "https://after-move.example/")
    actions.sync_ok(firefox)
    with storage_client(tokenserver, fxa, account) as client:
        assert client.root.startswith(node_b.public_url + "/1.5/")
        on_b = client.get("info/collections").json()
        counts_b = client.get("info/collection_counts").json()
    print("collections on node A:", on_a, "then on node B:", on_b)
    statuses = request_statuses(node_b)
    # not uploaded again, no fresh start: history, meta/global and crypto/keys untouched
    assert {name: on_b[name] for name in ("history", "meta", "crypto")} == {name: on_a[name] for name in ("history", "meta", "crypto")}
    assert counts_b["history"] == counts_a["history"]
    assert counts_b["bookmarks"] >= counts_a["bookmarks"] + 3 and on_b["bookmarks"] > on_a["bookmarks"]
    assert "storage_root" not in statuses, statuses  # no DELETE /storage (a wipe)
    step("restarted, continued on node B")


def test_key_change_starts_over_and_signs_the_old_device_out(start_sync_server, make_firefox, fxa, sqlite_url):
    """A password reset: new kB, keys_changed_at and generation bumped,
    every session ended. A device signing in with the new keys gets a new
    uid with empty storage; the old device is asked to sign in again."""
    step = Steps()
    server = start_sync_server(sqlite_url)
    account = fxa.create_account("reset@example.org")
    old_device = make_firefox("old-device", server)
    actions.sign_in(old_device, fxa, account)
    actions.add_bookmarks(old_device, "Before the reset", 100, "https://before-reset.example/")
    actions.sync_ok(old_device)
    with storage_client(server, fxa, account) as client:
        old_root, old_counts = client.root, client.get("info/collection_counts").json()
    assert old_counts["bookmarks"] >= 101
    step("old device synced")

    account.change_keys()
    before_reset = len(fxa.requests)
    new_device = make_firefox("new-device", server)
    actions.sign_in(new_device, fxa, account)
    actions.sync_ok(new_device)
    with storage_client(server, fxa, account) as client:
        assert client.root != old_root  # a new uid
        new_counts = client.get("info/collection_counts").json()
    print("records before the reset:", old_counts, "after:", new_counts)
    assert new_counts["bookmarks"] < old_counts["bookmarks"]  # only the new device's default ones
    assert new_counts["clients"] == 1
    assert actions.bookmarks(new_device, "Before the reset") == {}
    step("new device started over on a new uid")

    # The old device's session is gone: after a restart (its storage token
    # is cached for an hour) it is told to sign in again. Which refusal comes
    # first varies (the device list refresh at start, the OAuth token grant,
    # or the tokenserver refusing its cached OAuth token's old keys), so wait
    # for the state the user sees.
    old_device.stop()
    old_device.start()
    states = []
    for _ in range(5):
        status = actions.sync(old_device)
        states.append((status, actions.account_state(old_device)))
        if states[-1][1] == "login_failed":
            break
    print("old device after the reset:", states)
    # What the toolbar's account menu shows: "Sign in to reconnect".
    assert states[-1][1] == "login_failed", states
    assert status["ran"] != "finish"
    # Told by the accounts server (the ended session refused, on whichever
    # request Firefox made first) or the tokenserver (its cached OAuth token's old keys).
    refused = [request for request in fxa.requests[before_reset:] if request[2] == 401]
    assert refused or "client state: stale value" in server.log(), fxa.requests[before_reset:]
    step("old device asked to sign in again")
