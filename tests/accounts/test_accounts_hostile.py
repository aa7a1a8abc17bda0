"""Hostile input on every accounts endpoint (issue 15): malformed and
oversized bodies, fields of every wrong type and size, malformed Hawk,
wrong and replayed signatures, wrong tokens. Always a 4xx with FxA's error
body (spec accounts.md §1.3), never a 5xx."""

from __future__ import annotations

import secrets
import time
from urllib.parse import quote

import httpx
import pytest

from accounts.conftest import new_email, start_accounts_server
from support.databases import fresh_database_url
from support.onepw import FIREFOX_CLIENT_ID, SYNC_SCOPE, FirefoxFlow, OnepwClient, payload_hash, token_credentials
from syncstorage.auth.hawk import hawk_header

pytestmark = pytest.mark.e2e

# (method, path, Hawk token kind or None)
ENDPOINTS = [
    ("GET", "/.well-known/fxa-client-configuration", None),
    ("GET", "/.well-known/openid-configuration", None),
    ("POST", "/v1/account/create?keys=true", None),
    ("POST", "/v1/account/login?keys=true", None),
    ("GET", "/v1/account/keys", "keyFetchToken"),
    ("GET", "/v1/account/status?uid=00", None),
    ("POST", "/v1/account/status", None),
    ("POST", "/v1/account/destroy", None),
    ("GET", "/v1/session/status", "sessionToken"),
    ("POST", "/v1/session/destroy", "sessionToken"),
    ("GET", "/v1/recovery_email/status", "sessionToken"),
    ("POST", "/v1/recovery_email/resend_code", "sessionToken"),
    ("POST", "/v1/session/verify_code", "sessionToken"),
    ("POST", "/v1/session/resend_code", "sessionToken"),
    ("POST", "/v1/password/change/start", None),
    ("POST", "/v1/password/change/finish", "passwordChangeToken"),
    ("POST", "/v1/account/reset", "accountResetToken"),
    ("POST", "/v1/account/scoped-key-data", "sessionToken"),
    ("POST", "/v1/oauth/authorization", "sessionToken"),
    ("POST", "/v1/oauth/token", None),
    ("POST", "/v1/oauth/destroy", None),
    ("GET", "/v1/jwks", None),
    ("POST", "/v1/verify", None),
    ("POST", "/v1/introspect", None),
    ("POST", "/v1/account/device", "sessionToken"),
    ("GET", "/v1/account/devices", "sessionToken"),
    ("POST", "/v1/account/device/destroy", "sessionToken"),
    ("GET", "/v1/account/device/commands", "sessionToken"),
    ("POST", "/v1/account/devices/invoke_command", "sessionToken"),
    ("POST", "/v1/account/devices/notify", "sessionToken"),
    ("GET", "/v1/account/attached_clients", "sessionToken"),
    ("GET", "/profile/v1/profile", None),
]
POSTS = [path for method, path, _ in ENDPOINTS if method == "POST"]
SIGNED = [(method, path, kind) for method, path, kind in ENDPOINTS if kind]
SESSION_SIGNED = [(m, p) for m, p, k in SIGNED if k == "sessionToken" and not p.endswith("destroy")]

BAD_VALUES = [None, 7, -1, 2**70, 1.5, True, [], {}, ["x"], {"a": {"b": []}}, "", "x" * 30_000,
              "\u0000\n", "zz" * 32, "é" * 300, "0" * 64]
FIELDS = ["email", "authPW", "oldAuthPW", "wrapKb", "sessionToken", "invite", "client_id", "scope", "state",
          "response_type", "access_type", "code_challenge", "code_challenge_method", "keys_jwe", "redirect_uri",
          "grant_type", "code", "code_verifier", "refresh_token", "ttl", "token", "id", "name", "type",
          "availableCommands", "pushCallback", "pushPublicKey", "pushAuthKey", "command", "target", "payload", "to"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("hostile")
    running = start_accounts_server(tmp_path, fresh_database_url("sqlite", tmp_path))
    yield running
    running.stop()
    print(running.log())


@pytest.fixture(scope="module")
def signed_in(server):
    client = OnepwClient(server.base_url)
    account = client.create(new_email(), "a password")
    kb = client.kb(account)
    client.request("POST", "/v1/account/device", {"name": "d", "type": "desktop",
                   "availableCommands": {"c": "v"}}, token=account.session_token)
    yield client, account, kb
    client.close()


def assert_refused_properly(response: httpx.Response, *, allow_success: bool = False) -> None:
    assert response.status_code < 500, (response.status_code, response.text[:500])
    if response.status_code >= 400 and response.status_code not in (404, 405):
        body = response.json()
        assert body["code"] == response.status_code and isinstance(body["errno"], int) and body["error"]
        assert "Date" in response.headers
    elif not allow_success:
        assert response.status_code >= 400, response.text[:500]


@pytest.mark.parametrize("path", POSTS)
@pytest.mark.parametrize("content", [b"{", b"[1, 2]", b"null", b"\xff\xfe", b'"text"', b"{\"a\": 1e999999}"])
def test_bodies_that_are_not_json_objects(server, path, content):
    response = httpx.post(server.base_url + path, content=content, headers={"Content-Type": "application/json"})
    assert_refused_properly(response)


@pytest.mark.parametrize("path", POSTS)
def test_oversized_bodies(server, path):
    response = httpx.post(server.base_url + path, content=b'{"a": "' + b"x" * 70_000 + b'"}',
                          headers={"Content-Type": "application/json"})
    assert response.status_code == 413 and response.json()["errno"] == 113


@pytest.mark.parametrize("method, path, kind", SIGNED)
def test_signed_endpoints_without_or_with_broken_hawk(server, method, path, kind):
    url = server.base_url + path
    body = {} if method == "POST" else None
    headers_list = [
        {},
        {"Authorization": "Bearer abc"},
        {"Authorization": "Hawk"},
        {"Authorization": 'Hawk id="x", ts="1", nonce="n", mac="m"'},
        {"Authorization": 'Hawk id="' + "0" * 64 + '", ts="abc", nonce="n", mac="m"'},
        {"Authorization": 'Hawk id="' + "0" * 64 + '", ts="1", nonce="n", mac="m", mac="m"'},
        {"Authorization": hawk_header(method, url, "ab" * 32, b"k" * 32)},  # unknown token
        {"Authorization": "Hawk " + "x" * 6000},
    ]
    for headers in headers_list:
        response = httpx.request(method, url, json=body, headers=headers)
        assert response.status_code == 401, (headers, response.text)
        assert response.json()["errno"] in (109, 110)
        assert "Retry-After" not in response.headers  # Firefox retries a 401 once


@pytest.mark.parametrize("method, path", SESSION_SIGNED)
def test_every_field_of_every_type(server, signed_in, method, path):
    client, account, _kb = signed_in
    if method == "GET":
        for value in BAD_VALUES:
            text = quote(str(value)[:1000])
            response = client.raw("GET", f"{path}?index={text}&limit={text}&filterIdleDevicesTimestamp={text}",
                                  token=account.session_token)
            assert_refused_properly(response, allow_success=True)
        return
    for name in FIELDS:
        for value in BAD_VALUES:
            response = client.raw("POST", path, {name: value}, token=account.session_token)
            assert_refused_properly(response, allow_success=True)


@pytest.mark.parametrize("path", [p for p in POSTS if "destroy" not in p and "/v1/account/reset" not in p
                                  and "change/finish" not in p])
def test_every_field_of_every_type_unsigned(server, path):
    with OnepwClient(server.base_url) as client:
        for name in FIELDS:
            for value in BAD_VALUES:
                response = client.raw("POST", path, {name: value, "email": "a@b", "client_id": FIREFOX_CLIENT_ID})
                assert_refused_properly(response, allow_success=True)


def test_wrong_mac_payload_hash_stale_timestamp_and_replay(server, signed_in):
    client, account, _kb = signed_in
    url = server.base_url + "/v1/account/devices/notify"
    hawk_id, key, _ = token_credentials(account.session_token, "sessionToken")
    body = b'{"to": "all"}'
    good_hash = payload_hash("application/json", body)

    def send(authorization: str, content: bytes = body) -> httpx.Response:
        return httpx.post(url, content=content, headers={"Content-Type": "application/json", "Authorization": authorization})

    wrong_key = send(hawk_header("POST", url, hawk_id, b"w" * 32, hash=good_hash))
    assert (wrong_key.status_code, wrong_key.json()["errno"]) == (401, 109)
    no_hash = send(hawk_header("POST", url, hawk_id, key))
    assert (no_hash.status_code, no_hash.json()["errno"]) == (401, 109)
    tampered = send(hawk_header("POST", url, hawk_id, key, hash=good_hash), b'{"to": ["x"]}')
    assert (tampered.status_code, tampered.json()["errno"]) == (401, 109)
    other_host = send(hawk_header("POST", url.replace("127.0.0.1", "localhost"), hawk_id, key, hash=good_hash))
    assert (other_host.status_code, other_host.json()["errno"]) == (401, 109)
    stale = send(hawk_header("POST", url, hawk_id, key, hash=good_hash, ts=int(time.time()) - 3600))
    assert (stale.status_code, stale.json()["errno"]) == (401, 111)
    assert abs(stale.json()["serverTime"] - time.time()) < 30
    signed = hawk_header("POST", url, hawk_id, key, hash=good_hash)
    assert send(signed).status_code == 200
    replayed = send(signed)
    assert (replayed.status_code, replayed.json()["errno"]) == (401, 115)


def test_a_token_of_another_kind_is_refused(server, signed_in):
    client, account, _kb = signed_in
    # a session token where a key-fetch token belongs, and the reverse
    response = client.raw("GET", "/v1/account/keys", token=account.session_token, kind="keyFetchToken")
    assert (response.status_code, response.json()["errno"]) == (401, 110)
    response = client.raw("GET", "/v1/account/keys", token=account.session_token, kind="sessionToken")
    assert (response.status_code, response.json()["errno"]) == (401, 110)


def test_a_key_fetch_token_works_once(server):
    with OnepwClient(server.base_url) as client:
        account = client.create(new_email(), "a password")
        client.kb(account)
        again = client.raw("GET", "/v1/account/keys", token=account.key_fetch_token, kind="keyFetchToken")
        assert (again.status_code, again.json()["errno"]) == (401, 110)


def test_oauth_codes_pkce_and_clients(server, signed_in):
    client, account, kb = signed_in
    flow = FirefoxFlow()
    code = client.authorize(account, kb, flow)
    base = {"grant_type": "authorization_code", "client_id": FIREFOX_CLIENT_ID, "code": code}
    wrong_verifier = client.raw("POST", "/v1/oauth/token", {**base, "code_verifier": FirefoxFlow().verifier},
                                token=account.session_token)
    assert wrong_verifier.json()["errno"] == 175
    used = client.raw("POST", "/v1/oauth/token", {**base, "code_verifier": flow.verifier}, token=account.session_token)
    assert used.json()["errno"] == 172  # a code is used once, even by a failed exchange
    unknown = client.raw("POST", "/v1/oauth/token", {**base, "code": secrets.token_hex(32), "code_verifier": flow.verifier})
    assert unknown.json()["errno"] == 172
    other_client = client.raw("POST", "/v1/oauth/token", {**base, "client_id": "0123456789abcdef", "code_verifier": "x"})
    assert other_client.json()["errno"] == 162
    authorization = {"client_id": FIREFOX_CLIENT_ID, "state": "s", "scope": f"profile {SYNC_SCOPE}",
                     "response_type": "code", "code_challenge": flow.challenge, "code_challenge_method": "S256",
                     "keys_jwe": "a.b.c.d.e"}
    bad_scope = client.raw("POST", "/v1/oauth/authorization", {**authorization, "scope": "profile admin"},
                           token=account.session_token)
    assert (bad_scope.json()["errno"], bad_scope.json()["invalidScopes"]) == (163, ["admin"])
    no_pkce = client.raw("POST", "/v1/oauth/authorization", {**authorization, "code_challenge_method": "plain"},
                         token=account.session_token)
    assert no_pkce.json()["errno"] == 169
    no_keys = client.raw("POST", "/v1/oauth/authorization", {**authorization, "keys_jwe": None}, token=account.session_token)
    assert no_keys.json()["errno"] == 107
    grant_without_session = client.raw("POST", "/v1/oauth/token", {"grant_type": "fxa-credentials",
                                       "client_id": FIREFOX_CLIENT_ID, "scope": SYNC_SCOPE})
    assert (grant_without_session.status_code, grant_without_session.json()["errno"]) == (401, 110)


def test_verify_refuses_forged_and_foreign_tokens(server, signed_in):
    import jwt

    client, account, _kb = signed_in
    real = client.access_token(account.session_token)["access_token"]
    header, claims, signature = real.split(".")
    forged_claims = jwt.utils.base64url_encode(
        jwt.utils.base64url_decode(claims).replace(account.uid.encode(), b"0" * 32)).decode()
    for token in (f"{header}.{forged_claims}.{signature}", real[:-4] + "AAAA", "x.y.z", "not a jwt", "",
                  jwt.encode({"sub": account.uid, "scope": SYNC_SCOPE, "exp": time.time() + 60}, "k" * 32, algorithm="HS256")):
        response = client.raw("POST", "/v1/verify", {"token": token})
        assert (response.status_code, response.json()["errno"]) == (400, 108), token
        assert client.raw("POST", "/v1/introspect", {"token": token}).json() == {"active": False}
        if token:
            tokenserver = httpx.get(server.base_url + "/1.0/sync/1.5",
                                    headers={"Authorization": f"Bearer {token}", "X-KeyID": "1234-qqo"})
            assert tokenserver.status_code in (401, 503)  # 503: the remote accounts server is unreachable


def test_a_post_without_content_length(server):
    from support.hostile import raw_exchange, status_of

    host = server.base_url.split("//", 1)[1]
    answer = raw_exchange(server, f"POST /v1/account/login HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
    assert status_of(answer) == 411 and b'"errno":112' in answer


def test_replay_is_refused_with_the_shared_nonce_store(sqlite_url, tmp_path, redis_url):
    """Several workers share their nonces in Redis (nonce_store_url): the
    accounts API uses the same store."""
    running = start_accounts_server(tmp_path, sqlite_url, nonce_store_url=redis_url)
    try:
        with OnepwClient(running.base_url) as client:
            account = client.create(new_email(), "a password")
            nonce = secrets.token_urlsafe(6)
            first = client.raw("GET", "/v1/session/status", token=account.session_token, nonce=nonce)
            again = client.raw("GET", "/v1/session/status", token=account.session_token, nonce=nonce)
        assert first.status_code == 200
        assert (again.status_code, again.json()["errno"]) == (401, 115)
    finally:
        running.stop()
