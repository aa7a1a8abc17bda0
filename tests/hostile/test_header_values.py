"""Header values a hostile client sends to the application (issue 10,
findings 1 and 3): every value is bounded before it is parsed, so it gets
its 400/401 at once, never a 500 and never a stall of the whole server.

The server here accepts headers up to 2 MiB, so that the values reach the
application: with the default limits the HTTP layer refuses them first
(test_http_limits.py)."""

from __future__ import annotations

import time

import httpx
import pytest

from support.server import RunningServer
from support.hostile import heartbeat_watch, port_of, raw_exchange, status_of, sync_client
from syncstorage.auth import hawk_header
from syncstorage.tokenserver.identifiers import fxa_kid

pytestmark = pytest.mark.e2e

BIG_HEADERS = {"max_header_line_bytes": str(2 * 2**20), "max_header_bytes": str(4 * 2**20)}
FAST = 1.0  # seconds: what any answer or heartbeat may take here, with margin for a busy CI
TOKEN_PATH = "/1.0/sync/1.5"


@pytest.fixture(scope="module")
def big(start_shared) -> RunningServer:
    return start_shared(**BIG_HEADERS)


def assert_no_traceback(server: RunningServer) -> None:
    assert "Traceback" not in server.log()


@pytest.mark.parametrize("digits", [900_000, 1_000_000])
@pytest.mark.parametrize("header", ["X-If-Modified-Since", "X-If-Unmodified-Since"])
def test_huge_timestamp_header_is_400_at_once(big, header, digits):
    # on main: 900,000 digits held the whole server for 32 s, 1,000,000 were a 500
    with sync_client(big) as client, heartbeat_watch(big) as watch:
        started = time.monotonic()
        response = client.get("storage/col", headers={header: "9" * digits})
        took = time.monotonic() - started
    print(f"{header} of {digits} digits: {response.status_code} in {took:.3f} s, worst heartbeat {watch.worst:.3f} s")
    assert response.status_code == 400
    assert took < 2 * FAST  # the upload of the header itself is part of it
    assert watch.worst < FAST
    assert_no_traceback(big)


@pytest.mark.parametrize("name", ["newer", "older"])
def test_huge_timestamp_query_is_400_at_once(big, name):
    # raw: httpx refuses to send such a URL
    with heartbeat_watch(big) as watch:
        started = time.monotonic()
        status = status_of(signed_get(big, f"/1.5/1/storage/col?{name}={'1' * 900_000}", []))
        took = time.monotonic() - started
    assert status == 400
    assert took < 2 * FAST and watch.worst < FAST


def test_longest_timestamp_still_parsed(server):
    # 64 characters are more than any client sends, and are still a timestamp
    with sync_client(server) as client:
        put = client.put("storage/col/a", json={"payload": "x"})
        assert put.status_code == 200
        stamp = put.text
        assert client.get("storage/col/a", headers={"X-If-Modified-Since": stamp.ljust(64, "0")}).status_code == 304
        assert client.get("storage/col/a", headers={"X-If-Modified-Since": stamp.ljust(65, "0")}).status_code == 400


def test_huge_size_hints_are_400(big):
    # X-Weave-* and Content-Length are capped before int(): over-limit or 400, never 500
    with sync_client(big) as client:
        for header in ("X-Weave-Records", "X-Weave-Bytes", "X-Weave-Total-Records", "X-Weave-Total-Bytes"):
            response = client.post("storage/col?batch=true", json=[], headers={header: "9" * 1_000_000})
            assert response.status_code == 400, header
            assert response.text == "17"  # over the limit (storage-api §6.2)


def test_user_agent_pattern_does_not_backtrack(server):
    # on main: this 7.7 KB User-Agent held the whole server for a minute
    # (the old-iOS-client pattern backtracked polynomially)
    agent = "Firefox-iOS-Sync/1.0b" + " (; iPhone OS ) (" * 450
    with sync_client(server) as client, heartbeat_watch(server) as watch:
        started = time.monotonic()
        response = client.get("info/collections", headers={"User-Agent": agent})
        took = time.monotonic() - started
    print(f"crafted User-Agent: {response.status_code} in {took:.3f} s, worst heartbeat {watch.worst:.3f} s")
    assert response.status_code == 200
    assert took < FAST and watch.worst < FAST


def signed_get(server: RunningServer, path: str, headers: list[tuple[bytes, bytes]], *, host: bytes | None = None) -> bytes:
    """A raw GET with a valid token and a Hawk header for the real address,
    plus `headers` (which may make the signed host unparseable)."""
    with sync_client(server) as client:
        token, key = client.http.auth.token, client.http.auth.key
    authorization = hawk_header("GET", server.base_url + path, token, key).encode()
    lines = [
        b"GET " + path.encode() + b" HTTP/1.1",
        b"Host: " + (host or f"127.0.0.1:{port_of(server)}".encode()),
        b"Authorization: " + authorization,
        b"Connection: close",
        *(name + b": " + value for name, value in headers),
    ]
    return raw_exchange(server, b"\r\n".join(lines) + b"\r\n\r\n")


BAD_HOSTS = {
    "host with 5,000-digit port": (b"127.0.0.1:" + b"9" * 5000, []),
    "host with empty port": (b"127.0.0.1:", []),
    "host with superscript digit port": (b"127.0.0.1:\xb2", []),
    "host with Arabic-Indic digit port": (b"127.0.0.1:" + "١".encode(), []),
    "host with huge IPv6 port": (b"[::1]:" + b"9" * 5000, []),
    "host with unclosed bracket": (b"[::1", []),
    "forwarded port of 5,000 digits": (None, [(b"X-Forwarded-Host", b"a"), (b"X-Forwarded-Port", b"9" * 5000)]),
    "forwarded port superscript": (None, [(b"X-Forwarded-Host", b"a"), (b"X-Forwarded-Port", b"\xb2")]),
    "forwarded port Arabic-Indic": (None, [(b"X-Forwarded-Host", b"a"), (b"X-Forwarded-Port", "١".encode())]),
    "forwarded port out of range": (None, [(b"X-Forwarded-Host", b"a"), (b"X-Forwarded-Port", b"99999999")]),
    "forwarded port negative": (None, [(b"X-Forwarded-Host", b"a"), (b"X-Forwarded-Port", b"-1")]),
    "forwarded host with 5,000-digit port": (None, [(b"X-Forwarded-Host", b"x:" + b"9" * 5000)]),
    "forwarded host empty port": (None, [(b"X-Forwarded-Host", b"x:")]),
    "forwarded proto unknown": (None, [(b"X-Forwarded-Host", b"x"), (b"X-Forwarded-Proto", b"\xb2" * 100)]),
}


@pytest.mark.parametrize("case", BAD_HOSTS)
def test_malformed_host_or_forwarded_port_is_401(server, case):
    # on main: the 5,000-digit and superscript ports were 500s (int() in _signed_host)
    host, headers = BAD_HOSTS[case]
    status = status_of(signed_get(server, "/1.5/1/info/collections", headers, host=host))
    assert status in (400, 401)
    assert_no_traceback(server)


def test_tokenserver_huge_numbers_are_not_500(start, fxa):
    server = start(fxa_oauth_server_url=fxa.url)
    url = server.base_url + TOKEN_PATH

    def ask(key_id: str, query: str = "") -> httpx.Response:
        bearer = fxa.access_token("a" * 32)
        return httpx.get(url + query, headers={"Authorization": f"Bearer {bearer}", "X-KeyID": key_id}, timeout=30)

    # on main: both were 500s (int() of more than 4300 digits)
    refused = ask("9" * 5000 + "-" + fxa_kid(1234, "aaaa").split("-", 1)[1])
    assert refused.status_code == 401 and refused.json()["status"] == "invalid-credentials"
    answered = ask(fxa_kid(1234, "aaaa"), "?duration=" + "9" * 5000)
    assert answered.status_code == 200  # an unusable duration means the default (§6.1)
    assert answered.json()["duration"] == 3600
    assert_no_traceback(server)


def test_a_refusal_that_quotes_the_client_is_logged_bounded(big):
    # "duplicated Hawk attribute <name>" quotes the client's attribute name
    name = "x" * 5000
    answer = httpx.get(
        f"{big.base_url}/1.5/1/info/collections",
        headers={"Authorization": f'Hawk {name}="1", {name}="2"'},
        timeout=10,
    )
    assert answer.status_code == 401
    quoted = [line for line in big.log().splitlines() if "duplicated Hawk attribute" in line]
    assert quoted, big.log()[-2000:]
    assert all(len(line) < 1000 for line in quoted), max(map(len, quoted))
