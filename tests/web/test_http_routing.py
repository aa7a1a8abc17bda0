"""URL layout (storage-api §1), auth failures, CORS (§15.2) and ops (§15.1)."""

from __future__ import annotations

import logging
import subprocess
import time

import pytest
from support.web import PUBLIC_URL, SECRET, assert_error, credentials
from starlette.applications import Starlette

from syncstorage import __version__
from syncstorage.auth import derived_secret, hawk_header, make_token


@pytest.mark.parametrize(
    "path",
    [
        "/nonexistent/url",
        "/info/nope",
        "/info",
        "/",
        "/storage/bookmarks/a/b",
        "/storage/" + "c" * 33,
        "/storage/bad%21name",
        "/storage/bookmarks/" + "x" * 65,
        "/storage/bookmarks/a%0Ab",
        "/storage/bookmarks/a%09b",
        "/storage/bookmarks/%C3%A9",
        "/storage/bookmarks/",
        "/storage/",
    ],
)
def test_unknown_paths_are_404(client, path):
    r = client.get(path)
    assert_error(r, 404)
    assert "X-Weave-Timestamp" in r.headers


@pytest.mark.parametrize("uid", ["abc", "12345678901", "-1", "1.0"])
def test_bad_uid_is_404(client, uid):
    r = client.get(f"{PUBLIC_URL}/1.5/{uid}/info/collections")
    assert_error(r, 404)


@pytest.mark.parametrize(
    "method,path",
    [
        ("PATCH", "/storage/bookmarks"),
        ("PUT", "/storage/bookmarks"),
        ("PUT", "/info/quota"),
        ("POST", "/info/collections"),
        ("GET", "/storage"),
        ("GET", ""),
        ("POST", "/storage/bookmarks/item"),
        ("OPTIONS", "/storage/bookmarks"),
    ],
)
def test_wrong_method_is_405(client, method, path):
    r = client.request(method, path, content=b'{"whatever": 1}')
    assert_error(r, 405)
    assert "X-Weave-Timestamp" in r.headers


ALLOWED = {
    "": {"DELETE"},
    "/storage": {"DELETE"},
    "/info/collections": {"GET", "HEAD"},
    "/info/quota": {"GET", "HEAD"},
    "/info/collection_usage": {"GET", "HEAD"},
    "/info/collection_counts": {"GET", "HEAD"},
    "/info/configuration": {"GET", "HEAD"},
    "/storage/col": {"GET", "HEAD", "POST", "DELETE"},
    "/storage/col/item": {"GET", "HEAD", "PUT", "DELETE"},
}


@pytest.mark.parametrize("path", list(ALLOWED))
@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT", "POST", "DELETE", "PATCH", "OPTIONS", "TRACE"])
def test_every_other_method_is_405(client, path, method):
    if method in ALLOWED[path]:
        return
    before = client.state()
    r = client.request(method, path, content=b'[{"id": "a"}]')
    assert r.status_code == 405, r.text
    assert r.headers["content-type"] == "application/json"
    assert r.content == (b"" if method == "HEAD" else b"0")
    assert client.state() == before


def test_item_id_is_percent_decoded(client):
    # Any printable ASCII, '/' and '%' and space included, once decoded (§1.2)
    for raw, decoded in [("a%2Fb", "a/b"), ("50%25%20off", "50% off"), ("x%7Ey", "x~y")]:
        r = client.put(f"/storage/col/{raw}", json={"payload": decoded})
        assert r.status_code == 200, (raw, r.text)
        r = client.get(f"/storage/col/{raw}")
        assert r.json()["id"] == decoded
    assert sorted(client.get("/storage/col").json()) == ["50% off", "a/b", "x~y"]


def test_collection_name_is_percent_decoded(client):
    r = client.put("/storage/my%2Dcoll/x", json={"payload": "p"})
    assert r.status_code == 200
    assert list(client.get("/info/collections").json()) == ["my-coll"]


def test_head_is_get_without_body(client):
    client.put("/storage/c/x", json={"payload": "p"})
    r = client.request("HEAD", "/storage/c/x")
    assert r.status_code == 200
    assert r.content == b""
    assert "X-Last-Modified" in r.headers


# --- authentication (auth-and-tokens §5: every failure is 401 body 0) ---------


def test_missing_authorization_is_401(client):
    r = client.get("/info/collections", auth=False)
    assert_error(r, 401)
    assert r.headers["WWW-Authenticate"].startswith("Hawk")
    assert "X-Weave-Timestamp" in r.headers


def test_token_for_other_uid_is_401(client):
    r = client.get("/info/collections", auth=credentials(2))
    assert_error(r, 401)


def test_token_for_other_node_is_401(client):
    r = client.get("/info/collections", auth=credentials(1, "http://elsewhere:8000"))
    assert_error(r, 401)


def test_token_from_unknown_secret_is_401(client):
    r = client.get("/info/collections", auth=credentials(1, secret="not-the-secret"))
    assert_error(r, 401)


def test_expired_token_only_for_info_collections(client):
    expired = credentials(1, duration=-60)
    assert client.get("/info/collections", auth=expired).status_code == 200
    assert_error(client.get("/info/quota", auth=expired), 401)
    assert_error(client.get("/storage/bookmarks", auth=expired), 401)
    long_expired = credentials(1, duration=-7300)
    assert_error(client.get("/info/collections", auth=long_expired), 401)


def test_expired_token_grace_is_for_exactly_info_collections(client):
    expired = credentials(1, duration=-60)
    assert client.request("HEAD", "/info/collections", auth=expired).status_code == 200
    # the item "collections" of a collection named "info" is no exception
    assert_error(client.get("/storage/info/collections", auth=expired), 401)
    assert_error(client.get("/storage/info", auth=expired), 401)
    assert_error(client.delete("", auth=expired), 401)
    assert_error(client.put("/storage/info/collections", json={}, auth=expired), 401)


def test_stale_timestamp_is_401_with_server_time(client):
    token_auth = client.auth
    ts = int(time.time()) - 3600
    header = hawk_header("GET", client.base + "/info/collections", token_auth.token, token_auth.key, ts=ts)
    r = client.http.get(client.base + "/info/collections", headers={"Authorization": header})
    assert_error(r, 401)
    challenge = r.headers["WWW-Authenticate"]
    assert challenge.startswith('Hawk ts="') and 'tsm="' in challenge and 'error="Stale timestamp"' in challenge
    server_ts = int(challenge.split('"')[1])
    assert abs(server_ts - time.time()) < 5


def test_bad_mac_and_malformed_header_are_401(client):
    r = client.get("/info/collections")
    signed = r.request.headers["Authorization"]
    mac = signed.split('mac="')[1].split('"')[0]
    forged = signed.replace(mac, "A" * len(mac))
    assert_error(client.http.get(client.base + "/info/collections", headers={"Authorization": forged}), 401)
    for value in ("Hawk", "Hawk id=1", "Basic dXNlcjpwYXNz", 'Hawk id="x", ts="1", nonce="n"'):
        assert_error(client.http.get(client.base + "/info/collections", headers={"Authorization": value}), 401)


def test_replayed_request_is_401(client):
    r = client.http.get(client.base + "/info/collections", auth=client.auth)
    assert r.status_code == 200
    replay = r.request.headers["Authorization"]
    r = client.http.get(client.base + "/info/collections", headers={"Authorization": replay})
    assert_error(r, 401)


def test_signature_covers_the_query(client):
    r = client.get("/storage/bookmarks?full=1")
    assert r.status_code == 200
    signed = r.request.headers["Authorization"]
    r = client.http.get(client.base + "/storage/bookmarks?full=2", headers={"Authorization": signed})
    assert_error(r, 401)


def test_authentication_comes_before_body_validation(client):
    # An unauthenticated request with a bad body still gets 401, not 400
    r = client.post("/storage/bookmarks", content=b"not json", auth=False)
    assert_error(r, 401)


# --- path prefix (storage-api §1.1) -----------------------------------------


@pytest.mark.parametrize("proxy_strips", [False, True])
def test_public_url_with_path_prefix(make_client, sqlite_url, proxy_strips):
    client = make_client(sqlite_url, public_url="http://localhost:8000/sync/")
    assert client.public_url == "http://localhost:8000/sync"
    # The client signs <public_url>/1.5/<uid>/...: prefix included.
    token = make_token({"uid": 1, "node": "http://localhost:8000/sync"}, SECRET)
    key = derived_secret(token, SECRET)
    signed_url = "http://localhost:8000/sync/1.5/1/storage/c/x"
    header = hawk_header("PUT", signed_url, token, key)
    sent_url = "http://localhost:8000/1.5/1/storage/c/x" if proxy_strips else signed_url
    r = client.http.put(sent_url, headers={"Authorization": header}, json={"payload": "p"})
    assert r.status_code == 200, r.text
    r = client.get("/storage/c/x")  # base includes /sync
    assert r.status_code == 200
    assert r.json()["payload"] == "p"
    # a prefix-like path that is not the prefix is routed as-is
    assert client.http.get("http://localhost:8000/syncX/1.5/1/info/collections").status_code == 404


def test_ops_endpoints_at_prefix_and_root(make_client, sqlite_url):
    client = make_client(sqlite_url, public_url="http://localhost:8000/sync")
    for base in ("http://localhost:8000", "http://localhost:8000/sync"):
        r = client.http.get(base + "/__heartbeat__")
        assert r.status_code == 200
        body = r.json()
        assert body["status"] == "Ok" and body["database"] == "Ok"
        assert body["quota"] == {"enabled": False, "size": 2097152000}
        assert "version" in body
        assert client.http.get(base + "/__lbheartbeat__").json() == {}
        assert set(client.http.get(base + "/__version__").json()) == {"source", "version", "commit", "build"}


def test_unknown_path_outside_the_api(client):
    assert_error(client.http.get(PUBLIC_URL + "/nothing/here"), 404)
    assert_error(client.http.post(PUBLIC_URL + "/__heartbeat__"), 405)


def test_unreachable_database(make_client):
    # nothing listens on port 1
    client = make_client("postgresql://postgres@127.0.0.1:1/none", migrate=False)
    r = client.http.get(PUBLIC_URL + "/__heartbeat__")
    assert r.status_code == 503
    assert r.json()["status"] == "Err"
    r = client.get("/info/collections")
    assert_error(r, 503)
    assert r.headers["Retry-After"] == "10"


# --- CORS (storage-api §15.2) ------------------------------------------------

PREFLIGHT = {"Origin": "localhost", "Access-Control-Request-Method": "PUT"}


@pytest.mark.parametrize(
    "path", ["/1.5/1/storage/c", "/1.5/1/__heartbeat__", "/no/such/path", "/1.5/abc/info/collections"]
)
def test_preflight_any_path(client, path):
    r = client.http.options(PUBLIC_URL + path, headers={**PREFLIGHT, "Authorization": "Hawk garbage"})
    assert r.status_code == 200
    assert r.headers["Access-Control-Allow-Origin"] == "localhost"
    assert r.headers["Vary"] == "Origin"
    assert r.headers["Access-Control-Max-Age"] == "1728000"
    assert r.headers["Access-Control-Allow-Methods"] == "DELETE, GET, POST, PUT"
    allowed = r.headers["Access-Control-Allow-Headers"].split(", ")
    for name in ("Authorization", "Content-Type", "X-Weave-Records", "X-If-Unmodified-Since", "X-Verify-Code"):
        assert name in allowed


def test_actual_cross_origin_request_carries_origin(client):
    r = client.get("/info/collections", headers={"Origin": "https://addons.example"})
    assert r.status_code == 200
    assert r.headers["Access-Control-Allow-Origin"] == "https://addons.example"
    r = client.get("/info/collections", auth=False, headers={"Origin": "https://x"})
    assert r.status_code == 401
    assert r.headers["Access-Control-Allow-Origin"] == "https://x"


def test_configured_origin(make_client, sqlite_url):
    client = make_client(sqlite_url, cors_allowed_origin="https://good.example")
    r = client.http.options(PUBLIC_URL + "/1.5/1/storage/c", headers={**PREFLIGHT, "Origin": "https://good.example"})
    assert r.headers["Access-Control-Allow-Origin"] == "https://good.example"
    r = client.http.options(PUBLIC_URL + "/1.5/1/storage/c", headers={**PREFLIGHT, "Origin": "https://evil.example"})
    assert r.status_code == 200
    assert "Access-Control-Allow-Origin" not in r.headers


def test_version_reports_the_commit(make_client, sqlite_url, monkeypatch):
    # From a git checkout: its HEAD, read once
    client = make_client(sqlite_url)
    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    body = client.http.get(PUBLIC_URL + "/__version__").json()
    assert body["commit"] == head
    assert body["version"] == __version__
    # A build sets SYNCSTORAGE_COMMIT
    monkeypatch.setenv("SYNCSTORAGE_COMMIT", "0123abcd")
    client = make_client(sqlite_url)
    assert client.http.get(PUBLIC_URL + "/__version__").json()["commit"] == "0123abcd"


# --- optional behaviours (§7 X-Weave-Backoff, §15.3 old iOS clients) ---------


def test_backoff_header_when_configured(make_client, sqlite_url):
    client = make_client(sqlite_url, backoff_seconds=1800)
    for r in (client.get("/info/collections"), client.get("/nope"), client.get("/info/quota", auth=False)):
        assert r.headers["X-Weave-Backoff"] == "1800"
    client = make_client(sqlite_url)
    assert "X-Weave-Backoff" not in client.get("/info/collections").headers


OLD_IOS = "Firefox-iOS-Sync/18.0b1 (iPhone; iPhone OS 13.2.2) (Fennec (synctesting))"


@pytest.mark.parametrize(
    "user_agent,rejected",
    [
        (OLD_IOS, True),
        ("Firefox-iOS-Sync/19.2.1b6543 (iPad; iPhone OS 12.0) (Home)", True),
        ("Firefox-iOS-Sync/20.0b1 (iPhone; iPhone OS 13.2.2) (Fennec)", False),
        ("Firefox-iOS-Sync/108.0b24012 (iPhone; iPhone OS 16.1) (Fennec)", False),
        ("Firefox-iOS-Sync/18.0b1", False),  # not the full form
        ("Firefox-iOS-Sync/" + "1" * 5000 + ".0b1 (iPhone; iPhone OS 13) (x)", False),
        ("Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0", False),
        ("Firefox/120.0 (Linux x86_64) FxSync/1.118.0.20231016.desktop", False),
    ],
)
def test_old_ios_clients_get_503(client, user_agent, rejected, caplog):
    caplog.set_level(logging.INFO, logger="syncstorage.request")
    r = client.get("/info/collections", headers={"User-Agent": user_agent})
    if rejected:
        assert_error(r, 503)
        # the request log says why (docs/configuration.md, log_format)
        assert caplog.records[-1].fields["reason"] == "Firefox iOS client older than 20"
    else:
        assert r.status_code == 200


def test_old_ios_rejection_can_be_turned_off(make_client, sqlite_url):
    client = make_client(sqlite_url, reject_old_ios_clients=False)
    assert client.get("/info/collections", headers={"User-Agent": OLD_IOS}).status_code == 200


def test_storage_api_requests_skip_starlette(make_client, sqlite_url, monkeypatch):
    """/1.5/ requests go from the outer layers straight to the storage API
    (app.py): Starlette's router and exception middlewares only serve the
    ops, metrics and tokenserver routes."""
    client = make_client(sqlite_url)
    reached = []
    original = Starlette.__call__

    async def recording_call(self, scope, receive, send):
        if scope["type"] == "http":
            reached.append(scope["path"])
        await original(self, scope, receive, send)

    monkeypatch.setattr(Starlette, "__call__", recording_call)
    assert client.upload("col", {"id": "a", "payload": "x"}).status_code == 200
    assert client.get("/storage/col?full=1").json()[0]["payload"] == "x"
    assert_error(client.get("/storage/col/a/b"), 404)  # the storage API's own 404
    assert reached == []
    assert client.http.get("/__heartbeat__").status_code == 200
    assert reached == ["/__heartbeat__"]
