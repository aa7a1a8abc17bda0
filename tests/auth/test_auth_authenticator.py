"""HawkAuthenticator: every check of auth-and-tokens §5, in order, end to end
from a tokenlib token and a signed header to an Identity or an AuthError."""

from __future__ import annotations

import time

import hawkauthlib
import pytest
import webob
from starlette.datastructures import Headers

from syncstorage.auth import AuthError, HawkAuthenticator, Identity, MemoryNonceStore, hawk_header
from syncstorage.auth.hawk import parse_authorization
from syncstorage.auth.tokens import derived_secret, make_token
from syncstorage.settings import Settings

OLD, NEW = "old secret", "correct horse battery staple"
PUBLIC_URL = "https://sync.example.org/prefix"
FXA = {
    "fxa_uid": "0123456789abcdef0123456789abcdef",
    "fxa_kid": "1700000000000-YWJjZGVmZ2hpamtsbW5vcA",
    "hashed_fxa_uid": "ZmFrZS1oYXNo",
    "hashed_device_id": "ZGV2aWNl_-=",
}


def authenticator(**overrides) -> HawkAuthenticator:
    options = {"secrets": [OLD, NEW], "public_url": PUBLIC_URL, "nonce_store": MemoryNonceStore()}
    return HawkAuthenticator(**(options | overrides))


def token_for(uid=42, node=PUBLIC_URL, secret=NEW, expires_in=3600, **fields) -> tuple[str, str]:
    payload = {"uid": uid, "node": node, "expires": time.time() + expires_in} | fields
    token = make_token(payload, secret)
    return token, derived_secret(token, secret)


def authenticate(
    auth: HawkAuthenticator,
    token: str,
    key: str,
    *,
    method: str = "GET",
    path: str = "/1.5/42/storage/bookmarks",
    query: str = "",
    signed_url: str | None = None,
    headers: dict | None = None,
    scheme: str = "https",
    path_uid: int = 42,
    allow_expired: bool = False,
    ts: int | None = None,
    nonce: str | None = None,
    authorization: str | None = None,
) -> Identity:
    """Sign like a client talking to https://sync.example.org/prefix/..., and
    present the request as the HTTP layer sees it (prefix removed)."""
    if signed_url is None:
        signed_url = PUBLIC_URL + path + (f"?{query}" if query else "")
    if authorization is None:
        authorization = hawk_header(method, signed_url, token, key, ts=ts, nonce=nonce)
    all_headers = {"host": "sync.example.org", "authorization": authorization} | (headers or {})
    return auth.authenticate(
        method=method, path=path, query_string=query, headers=Headers(all_headers),
        scheme=scheme, path_uid=path_uid, allow_expired=allow_expired,
    )


def refused(reason: str, auth: HawkAuthenticator, token: str, key: str, **kwargs) -> AuthError:
    with pytest.raises(AuthError, match=reason) as caught:
        authenticate(auth, token, key, **kwargs)
    return caught.value


# --- success ----------------------------------------------------------------

def test_valid_request_gives_identity():
    token, key = token_for(**FXA)
    identity = authenticate(authenticator(), token, key)
    assert identity == Identity(uid=42, **FXA)


def test_legacy_token_uses_fxa_uid_as_hashed_id():
    token, key = token_for(fxa_uid="abc")
    assert authenticate(authenticator(), token, key).hashed_fxa_uid == "abc"


def test_query_string_is_signed_raw():
    token, key = token_for()
    auth = authenticator()
    query = "ids=a%20b,c&newer=1.5&full=1"
    authenticate(auth, token, key, query=query)
    refused("invalid mac", auth, token, key, query=query,
            signed_url=PUBLIC_URL + "/1.5/42/storage/bookmarks?ids=a b,c&newer=1.5&full=1")


def test_same_token_many_requests_uses_cache_but_checks_each_request():
    token, key = token_for()
    auth = authenticator()
    for _ in range(3):
        authenticate(auth, token, key)
    refused("uid mismatch", auth, token, key, path="/1.5/43/info/collections", path_uid=43)
    refused("invalid mac", auth, token, key, signed_url=PUBLIC_URL + "/1.5/42/other")


def test_interoperates_with_hawkauthlib_signer():
    token, key = token_for()
    request = webob.Request.blank("https://sync.example.org/prefix/1.5/42/storage/tabs?full=1")
    hawkauthlib.sign_request(request, token, key.encode())
    authenticate(authenticator(), token, key, path="/1.5/42/storage/tabs", query="full=1",
                 authorization=request.headers["Authorization"])


# --- §5 step 1: header --------------------------------------------------------

def test_missing_authorization_header():
    auth = authenticator()
    with pytest.raises(AuthError, match="missing authorization header"):
        auth.authenticate(method="GET", path="/1.5/42/info/collections", query_string="",
                          headers=Headers({"host": "sync.example.org"}), scheme="https", path_uid=42)


@pytest.mark.parametrize(("authorization", "reason"), [
    ("Bearer abc", "scheme is not Hawk"),
    ('Hawk id="x", ts="1", nonce="n"', "attribute mac missing"),
    ("Hawk garbage", "malformed Hawk header"),
])
def test_malformed_authorization(authorization, reason):
    token, key = token_for()
    refused(reason, authenticator(), token, key, authorization=authorization)


# --- step 2: token signature -------------------------------------------------

def test_bad_base64_token():
    refused("malformed token base64", authenticator(), "not*base64", "key")


def test_short_token():
    refused("token too short", authenticator(), "AAAA", "key")


def test_token_from_unknown_secret():
    token, key = token_for(secret="someone else's secret")
    refused("invalid token signature", authenticator(), token, key)


def test_token_signed_with_older_secret_still_in_list():
    token, key = token_for(secret=OLD)
    auth = authenticator()
    authenticate(auth, token, key)
    # The Hawk key is derived from the secret that verified the token.
    refused("invalid mac", auth, token, derived_secret(token, NEW))
    refused("invalid token signature", authenticator(secrets=[NEW]), token, key)


def test_single_secret_with_spaces():
    token, key = token_for(secret=NEW)
    authenticate(authenticator(secrets=[NEW]), token, key)
    refused("invalid token signature", authenticator(secrets=NEW.split()), token, key)


def test_unpadded_token_id():
    for uid in range(42, 60):  # find a token that has padding
        token, _ = token_for(uid=uid)
        if token.endswith("="):
            break
    unpadded = token.rstrip("=")
    # The key derives from the token exactly as transmitted (§2.2).
    authenticate(authenticator(), unpadded, derived_secret(unpadded, NEW), path=f"/1.5/{uid}/x", path_uid=uid)


# --- steps 3-4: payload sanity and identifier charset --------------------------

@pytest.mark.parametrize(("fields", "reason"), [
    ({"uid": "42"}, "uid is not a non-negative integer"),
    ({"uid": -1}, "uid is not a non-negative integer"),
    ({"uid": 4.2}, "uid is not a non-negative integer"),
    ({"uid": True}, "uid is not a non-negative integer"),
    ({"uid": None}, "uid is not a non-negative integer"),
    ({"node": 5}, "node is not a string"),
    ({"node": None}, "node is not a string"),
    ({"salt": 123}, "salt is not a string"),
    ({"salt": "sél"}, "salt is not ASCII"),
    ({"expires": "soon"}, "expires is not a number"),
    ({"expires": None}, "expires is not a number"),
    ({"expires": True}, "expires is not a number"),
    ({"fxa_uid": "a b"}, "fxa_uid has invalid characters"),
    ({"fxa_uid": ""}, "fxa_uid has invalid characters"),
    ({"fxa_uid": "a" * 65}, "fxa_uid has invalid characters"),
    ({"fxa_kid": "1234-ab/c"}, "fxa_kid has invalid characters"),
    ({"hashed_device_id": 12}, "hashed_device_id has invalid characters"),
    ({"device_id": "é"}, "device_id has invalid characters"),
    ({"hashed_fxa_uid": "abc", "fxa_uid": "abc"}, "hashed_fxa_uid without fxa_uid and fxa_kid"),
    ({"hashed_fxa_uid": "abc", "fxa_kid": "abc"}, "hashed_fxa_uid without fxa_uid and fxa_kid"),
])
def test_payload_sanity(fields, reason):
    payload = {"uid": 42, "node": PUBLIC_URL, "expires": time.time() + 60, "salt": "abcdef"} | fields
    token = make_token(payload, NEW)
    refused(reason, authenticator(), token, "any key")


def test_identifier_of_64_allowed_chars_passes():
    token, key = token_for(fxa_uid="A" * 60 + "=-_9", fxa_kid="k", hashed_fxa_uid="h", device_id="d")
    assert authenticate(authenticator(), token, key).fxa_uid == "A" * 60 + "=-_9"


# --- step 5: expiry ----------------------------------------------------------------

def test_expired_token_refused():
    token, key = token_for(expires_in=-1)
    refused("expired token", authenticator(), token, key)


def test_expired_token_grace_on_info_collections():
    token, key = token_for(expires_in=-7000)
    auth = authenticator()
    authenticate(auth, token, key, path="/1.5/42/info/collections", allow_expired=True)
    refused("^expired token$", auth, token, key, path="/1.5/42/info/collections")


def test_expired_token_beyond_grace():
    token, key = token_for(expires_in=-7201)
    refused("beyond the info/collections grace", authenticator(), token, key,
            path="/1.5/42/info/collections", allow_expired=True)
    token, key = token_for(expires_in=-100)
    refused("beyond the info/collections grace", authenticator(expired_token_timeout=50), token, key,
            path="/1.5/42/info/collections", allow_expired=True)


# --- step 6: node --------------------------------------------------------------------

@pytest.mark.parametrize("node", [
    "https://sync.example.org/prefix",
    "https://sync.example.org/prefix/",
    "HTTPS://Sync.Example.ORG/prefix",
    "https://sync.example.org:443/prefix",
])
def test_node_normalization_accepts(node):
    token, key = token_for(node=node)
    authenticate(authenticator(), token, key)


@pytest.mark.parametrize("node", [
    "https://other.example.org/prefix",
    "https://sync.example.org",
    "https://sync.example.org/other",
    "https://sync.example.org/Prefix",
    "https://sync.example.org:8443/prefix",
    "http://sync.example.org/prefix",
    "not a url",
    "https://sync.example.org:99999/prefix",
])
def test_token_for_another_node(node):
    token, key = token_for(node=node)
    refused("token node does not match public_url", authenticator(), token, key)


# --- step 7: MAC -------------------------------------------------------------------

def test_wrong_mac():
    token, key = token_for()
    auth = authenticator()
    refused("invalid mac", auth, token, derived_secret(token, OLD))
    header = parse_authorization(hawk_header("GET", PUBLIC_URL + "/1.5/42/storage/bookmarks", token, key))
    tampered = f'Hawk id="{token}", ts="{header["ts"]}", nonce="{header["nonce"]}x", mac="{header["mac"]}"'
    refused("invalid mac", auth, token, key, authorization=tampered)


@pytest.mark.parametrize("signed_url", [
    "https://sync.example.org/1.5/42/storage/bookmarks",           # prefix missing
    "https://sync.example.org:8443/prefix/1.5/42/storage/bookmarks",  # other port
    "http://sync.example.org/prefix/1.5/42/storage/bookmarks",     # port 80
    "https://evil.example.org/prefix/1.5/42/storage/bookmarks",    # other host
    "https://sync.example.org/prefix/1.5/42/storage/bookmarks?x=1",  # query not sent
])
def test_mac_covers_path_host_port(signed_url):
    token, key = token_for()
    refused("invalid mac", authenticator(), token, key, signed_url=signed_url)


def test_mac_covers_method():
    token, key = token_for()
    header = hawk_header("GET", PUBLIC_URL + "/1.5/42/storage/bookmarks", token, key)
    refused("invalid mac", authenticator(), token, key, method="DELETE", authorization=header)


def test_host_case_and_explicit_default_port():
    token, key = token_for()
    auth = authenticator()
    authenticate(auth, token, key, headers={"host": "SYNC.example.org:443"})
    refused("invalid mac", auth, token, key, headers={"host": "sync.example.org:444"})


def test_forwarded_headers():
    token, key = token_for()
    auth = authenticator()
    forwarded = {"host": "127.0.0.1:8000", "x-forwarded-host": "sync.example.org, proxy2",
                 "x-forwarded-proto": "https, http"}
    authenticate(auth, token, key, headers=forwarded, scheme="http")
    refused("invalid mac", auth, token, key, headers={"host": "127.0.0.1:8000"}, scheme="http")


@pytest.mark.parametrize(("public_url", "node", "headers", "scheme"), [
    # default port, case and trailing slash normalized away (§5 step 6)
    ("http://localhost", "http://LOCALHOST:80/", {"host": "localhost"}, "http"),
    # no path prefix
    ("http://localhost:8000", "http://localhost:8000", {"host": "localhost:8000"}, "http"),
    # X-Forwarded-Proto decides the default port
    ("http://sync.example.org/prefix", "http://sync.example.org/prefix", {"x-forwarded-proto": "http"}, "https"),
    # X-Forwarded-Port supplies the port when the host has none
    ("https://sync.example.org:8443/prefix", "https://sync.example.org:8443/prefix",
     {"host": "backend", "x-forwarded-host": "sync.example.org", "x-forwarded-port": "8443"}, "http"),
    # IPv6 literals: brackets respected, not signed (as Firefox does)
    ("http://[::1]:8000", "http://[::1]:8000", {"host": "[::1]:8000"}, "http"),
    ("http://[::1]:8000", "http://[::1]:8000/", {"host": "[::1]", "x-forwarded-port": "8000"}, "http"),
])
def test_other_public_urls(public_url, node, headers, scheme):
    token, key = token_for(node=node)
    auth = authenticator(public_url=public_url)
    authenticate(auth, token, key, signed_url=public_url + "/1.5/42/x", path="/1.5/42/x",
                 headers=headers, scheme=scheme)


def test_other_ipv6_host():
    token, key = token_for(node="http://[::1]:8000")
    auth = authenticator(public_url="http://[::1]:8000")
    refused("invalid mac", auth, token, key, signed_url="http://[::1]:8000/1.5/42/x", path="/1.5/42/x",
            headers={"host": "[::2]:8000"}, scheme="http")


@pytest.mark.parametrize(("headers", "scheme", "reason"), [
    ({"host": ""}, "https", "missing host header"),
    ({"host": "a:b"}, "https", "malformed host header"),
    ({"host": "[::1"}, "https", "malformed host header"),
    ({"host": "[::1]x"}, "https", "malformed host header"),
    ({"host": ":443"}, "https", "malformed host header"),
    ({"host": "h", "x-forwarded-port": "eighty"}, "https", "malformed X-Forwarded-Port"),
    # issue 10: these were 500s (str.isdigit() takes "²", int() refuses > 4300 digits)
    ({"host": "h:" + "9" * 5000}, "https", "malformed host header"),
    ({"host": "h:\xb2"}, "https", "malformed host header"),
    ({"host": "h:99999"}, "https", "malformed host header"),
    ({"host": "[::1]:" + "9" * 5000}, "https", "malformed host header"),
    ({"host": "h", "x-forwarded-port": "9" * 5000}, "https", "malformed X-Forwarded-Port"),
    ({"host": "h", "x-forwarded-port": "\xb2"}, "https", "malformed X-Forwarded-Port"),
    ({"host": "h", "x-forwarded-host": "x:" + "9" * 5000}, "https", "malformed X-Forwarded-Host"),
    ({"host": "h"}, "ws", "unknown scheme"),
])
def test_bad_host(headers, scheme, reason):
    token, key = token_for()
    refused(reason, authenticator(), token, key, headers=headers, scheme=scheme)


def test_force_public_url_host():
    token, key = token_for()
    auth = authenticator(force_public_url_host=True)
    authenticate(auth, token, key, headers={"host": "internal:8000", "x-forwarded-host": "junk"}, scheme="http")


# --- step 8: timestamp and nonce -------------------------------------------------------

def test_stale_and_future_timestamps():
    token, key = token_for()
    auth = authenticator()
    now = int(time.time())
    error = refused("stale timestamp", auth, token, key, ts=now - 61)
    assert error.www_authenticate.startswith('Hawk ts="') and 'error="Stale timestamp"' in error.www_authenticate
    refused("timestamp in the future", auth, token, key, ts=now + 62)
    authenticate(auth, token, key, ts=now - 55)
    authenticate(auth, token, key, ts=now + 55)
    wide = authenticator(skew_window=3600)
    authenticate(wide, token, key, ts=now - 3000)


def test_stale_check_happens_after_mac():
    token, key = token_for()
    refused("invalid mac", authenticator(), token, derived_secret(token, OLD), ts=int(time.time()) - 1000)


def test_replayed_nonce_memory_store():
    token, key = token_for()
    auth = authenticator()
    header = hawk_header("GET", PUBLIC_URL + "/1.5/42/storage/bookmarks", token, key)
    authenticate(auth, token, key, authorization=header)
    refused("replayed nonce", auth, token, key, authorization=header)
    # Another nonce, or the same nonce with another token, is fine.
    nonce = parse_authorization(header)["nonce"]
    authenticate(auth, token, key, nonce=nonce + "x")
    other_token, other_key = token_for()
    authenticate(auth, other_token, other_key, nonce=nonce)


# --- step 9: uid ------------------------------------------------------------------------

def test_uid_mismatch():
    token, key = token_for(uid=42)
    refused("uid mismatch", authenticator(), token, key, path="/1.5/7/storage/x", path_uid=7)


# --- construction -----------------------------------------------------------------------

def test_from_settings():
    settings = Settings(master_secret=NEW, public_url=PUBLIC_URL + "/", hawk_skew_window=5,
                        expired_token_timeout=10, force_public_url_host=True)
    auth = HawkAuthenticator.from_settings(settings, MemoryNonceStore())
    token, key = token_for()
    authenticate(auth, token, key, headers={"host": "elsewhere"})
    refused("stale timestamp", auth, token, key, ts=int(time.time()) - 10)


def test_bad_public_url_refused():
    with pytest.raises(ValueError):
        authenticator(public_url="ftp://x")
