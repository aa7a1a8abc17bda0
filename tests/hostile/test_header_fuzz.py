"""Property-based fuzz of request headers against a real server process
(issue 10): any names, values and sizes up to 1 MB, on signed storage
requests and on the other endpoints, never give a 5xx, and a concurrent
/__lbheartbeat__ stays fast throughout.

The server accepts headers up to 2 MiB here so that the values reach the
application (with the defaults the HTTP layer refuses them with 431 first:
test_http_limits.py). Framing headers (Content-Length, Transfer-Encoding,
Connection, Expect, Upgrade) are left out: they decide where a request
ends, not what the application parses."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.hostile import heartbeat_watch, port_of, raw_exchange, status_of, sync_client
from syncstorage.auth import hawk_header

pytestmark = pytest.mark.e2e

FAST = 1.0  # seconds a heartbeat may take (margin for a busy CI)
MAX_VALUE = 2**20

# The headers the server reads; first those it parses as numbers, hosts or
# by a pattern.
PARSED = [
    "X-If-Modified-Since", "X-If-Unmodified-Since", "X-Weave-Records", "X-Weave-Bytes",
    "X-Weave-Total-Records", "X-Weave-Total-Bytes", "Host", "X-Forwarded-Host", "X-Forwarded-Port", "X-KeyID",
    "User-Agent",
]
KNOWN = [*PARSED, "Authorization", "X-Forwarded-Proto", "X-Client-State", "Accept", "Content-Type",
         "Origin", "Access-Control-Request-Method"]
OK_BYTES = st.binary(max_size=16).filter(lambda b: not set(b) & {0, 10, 13})  # CR, LF, NUL end a header

# Any header: a known or random name; a short random start, then a piece
# repeated up to 1 MiB. The pieces: digits (ASCII and not), separators of
# hosts, lists and timestamps, bytes above 0x7f, Hawk syntax, the old-iOS
# User-Agent (whose pattern backtracked).
pieces = st.one_of(
    st.sampled_from([b"9", b"0", b".", b":", b",", b"[", b"]", b" ", b"\xb2", "١".encode(), b"-", b"e",
                     b" (; iPhone OS ) (", b'Hawk id="', b'"', b"=", b"\\"]),
    OK_BYTES.filter(bool),
)
counts = st.one_of(st.integers(0, 64), st.sampled_from([1000, 4301, 100_000, MAX_VALUE]))
any_header = st.tuples(
    st.one_of(st.sampled_from(KNOWN), st.from_regex(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}", fullmatch=True)),
    st.builds(lambda head, piece, count: (head + piece * count)[:MAX_VALUE], OK_BYTES, pieces, counts),
)
# A header the server parses, with a value shaped for it: what random
# bytes would seldom hit (a timestamp, host or port of many digits).
parsed_header = st.tuples(
    st.sampled_from(PARSED),
    st.builds(
        lambda prefix, digit, count: (prefix + digit * count)[:MAX_VALUE],
        st.sampled_from([b"", b"1700000000.", b"0.", b"127.0.0.1:", b"x:", b"[::1]:", b"Firefox-iOS-Sync/1.0b"]),
        st.sampled_from([b"9", b"0", b"\xb2", "١".encode(), b" (; iPhone OS ) ("]),
        st.sampled_from([1, 5, 4301, 100_000, MAX_VALUE]),
    ),
)
headers = st.lists(st.one_of(parsed_header, any_header), max_size=4)
targets = st.sampled_from([
    ("GET", "/1.5/1/storage/col"),
    ("GET", "/1.5/1/storage/col/a"),
    ("GET", "/1.5/1/info/collections"),
    ("POST", "/1.5/1/storage/col?batch=true"),
    ("PUT", "/1.5/1/storage/col/a"),
    ("DELETE", "/1.5/1/storage/col/a"),
    ("OPTIONS", "/1.5/1/storage/col"),
    ("GET", "/1.0/sync/1.5"),
    ("GET", "/__heartbeat__"),
])


def test_no_header_gives_a_5xx(start):
    server = start(max_header_line_bytes=str(2 * MAX_VALUE), max_header_bytes=str(4 * MAX_VALUE))
    with sync_client(server) as client:
        token, key = client.http.auth.token, client.http.auth.key
    host = f"127.0.0.1:{port_of(server)}".encode()

    @settings(max_examples=200, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(target=targets, headers=headers)
    def one_request(target, headers):
        method, path = target
        body = b'[{"id": "a", "payload": "x"}]' if method == "POST" else b'{"payload": "x"}' if method == "PUT" else b""
        # signed with a valid token: the server parses the headers only then
        authorization = hawk_header(method, server.base_url + path, token, key).encode()
        lines = [f"{method} {path} HTTP/1.1".encode(), b"Host: " + host, b"Authorization: " + authorization]
        lines += [name.encode() + b": " + value for name, value in headers]
        lines += [b"Content-Type: application/json", b"Content-Length: %d" % len(body), b"Connection: close"]
        started = time.monotonic()
        answer = raw_exchange(server, b"\r\n".join(lines) + b"\r\n\r\n" + body)
        status = status_of(answer)
        assert status is not None and status < 500, answer[:200]
        assert time.monotonic() - started < 10

    with heartbeat_watch(server) as watch:
        one_request()
    assert watch.worst < FAST
    assert "Traceback" not in server.log()
