"""Hawk header parsing, the normalized string, MACs, and a client-side signer.

Spec: auth-and-tokens §3.1-§3.2 and §3.4 (stale-timestamp header).

Hand-written rather than taken from hawkauthlib: its functions take a WebOb
request (we serve ASGI), its header parser re-stitches comma-split pieces and
rejects a quoted value ending in an escaped backslash, and its string
comparison is a pure-Python loop. The code below is the same few lines of
HMAC, with `hmac.compare_digest` for the constant-time comparison. The tests
check it against hawkauthlib-signed requests for interoperability.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import time
from urllib.parse import urlsplit

from syncstorage.auth.identity import AuthError

REQUIRED_ATTRIBUTES = ("id", "ts", "nonce", "mac")
# Hawk's "app"/"dlg" (delegation) are never sent by Sync clients (§3.1).
_REFUSED_ATTRIBUTES = ("app", "dlg")

# One `name="value"` pair and the comma (or end) after it. Inside the quotes
# any character may be backslash-escaped (§3.1). The value pattern is the
# "unrolled loop" form: runs of plain characters are matched in one step,
# which matters for the ~300-character token id (measured 5x faster).
_ATTRIBUTE = re.compile(r'\s*([A-Za-z]+)\s*=\s*"([^"\\]*(?:\\.[^"\\]*)*)"\s*(?:,|$)')
_ESCAPE = re.compile(r"\\(.)")
# The same grammar for the usual header, which has no backslash: then no
# value holds a quote, so splitting on quotes yields the values, and only
# the short text between them is matched (hot path: every request).
_FIRST_NAME = re.compile(r"([A-Za-z]+)\s*=\s*")
_NEXT_NAME = re.compile(r"\s*,\s*([A-Za-z]+)\s*=\s*")
_END = re.compile(r"\s*,?")
_TS = re.compile(r"[0-9]{1,15}")

DEFAULT_PORTS = {"http": 80, "https": 443}


def parse_authorization(value: str) -> dict[str, str]:
    """Attributes of a `Hawk ...` Authorization header value, unescaped.

    Raises AuthError for another scheme, bad syntax, a duplicated or refused
    attribute, or a missing required one (§5 step 1).
    """
    scheme, rest = (value.split(None, 1) + ["", ""])[:2]
    if scheme.lower() != "hawk":  # auth schemes are case-insensitive (RFC 7235)
        raise AuthError("authorization scheme is not Hawk")
    attributes: dict[str, str] = {}
    rest = rest.strip()
    for name, value in _plain_pairs(rest) if "\\" not in rest else _escaped_pairs(rest):
        if name in attributes:
            raise AuthError(f"duplicated Hawk attribute {name}")
        attributes[name] = value
    for name in REQUIRED_ATTRIBUTES:
        if not attributes.get(name):
            raise AuthError(f"Hawk attribute {name} missing")
    for name in _REFUSED_ATTRIBUTES:
        if name in attributes:
            raise AuthError(f"Hawk attribute {name} not supported")
    if not _TS.fullmatch(attributes["ts"]):
        raise AuthError("Hawk ts is not an integer")
    return attributes


def _plain_pairs(rest: str) -> list[tuple[str, str]]:
    """(name, value) pairs of a header without backslashes."""
    pieces = rest.split('"')
    if len(pieces) % 2 == 0:
        raise AuthError("malformed Hawk header")
    pairs = []
    for index in range(0, len(pieces) - 1, 2):
        match = (_NEXT_NAME if index else _FIRST_NAME).fullmatch(pieces[index])
        if match is None:
            raise AuthError("malformed Hawk header")
        pairs.append((match.group(1), pieces[index + 1]))
    tail = pieces[-1]  # after the last value: nothing, or one comma
    if tail and (not pairs or not _END.fullmatch(tail)):
        raise AuthError("malformed Hawk header")
    return pairs


def _escaped_pairs(rest: str) -> list[tuple[str, str]]:
    """(name, value) pairs of any header, backslash escapes undone (§3.1)."""
    pairs, position = [], 0
    while position < len(rest):
        match = _ATTRIBUTE.match(rest, position)
        if match is None:
            raise AuthError("malformed Hawk header")
        raw = match.group(2)
        pairs.append((match.group(1), _ESCAPE.sub(r"\1", raw) if "\\" in raw else raw))
        position = match.end()
    return pairs


def normalized_string(
    *, ts: str, nonce: str, method: str, path_qs: str, host: str, port: int | str,
    hash: str = "", ext: str = "",
) -> str:
    """The nine newline-terminated lines that are MACed (§3.2)."""
    return (
        f"hawk.1.header\n{ts}\n{nonce}\n{method.upper()}\n{path_qs}\n"
        f"{host.lower()}\n{port}\n{hash}\n{ext}\n"
    )


# RFC 2104's pads, as translation tables (what hmac.py does)
_INNER_PAD = bytes(x ^ 0x36 for x in range(256))
_OUTER_PAD = bytes(x ^ 0x5C for x in range(256))
_SHA256_BLOCK = 64


class MacKey:
    """HMAC-SHA256 under one key, its padded inner and outer hash states
    computed once (RFC 2104); each MAC copies them. The server verifies
    every request of a token with the same key (cached with the token,
    auth/authenticator.py), and in the steady benchmark the one-shot
    `hmac.digest` (OpenSSL's HMAC(), which looks its digest up on every
    call) held 14 % of the server's samples (docs/performance.md)."""

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes) -> None:
        if len(key) > _SHA256_BLOCK:
            key = hashlib.sha256(key).digest()
        key = key.ljust(_SHA256_BLOCK, b"\0")
        self._inner = hashlib.sha256(key.translate(_INNER_PAD))
        self._outer = hashlib.sha256(key.translate(_OUTER_PAD))

    def digest(self, message: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()


def compute_mac(key: bytes | MacKey, text: str) -> str:
    """Standard base64 (padded) of HMAC-SHA256(key, text)."""
    if not isinstance(key, MacKey):
        key = MacKey(key)
    return base64.b64encode(key.digest(text.encode("utf-8"))).decode("ascii")


def macs_equal(expected: str, given: str) -> bool:
    """Constant-time comparison; `given` comes from the client and may hold
    any characters, so compare bytes (compare_digest refuses non-ASCII str)."""
    return hmac.compare_digest(expected.encode("ascii"), given.encode("utf-8"))


def stale_timestamp_header(key: bytes | MacKey, now: int) -> str:
    """WWW-Authenticate value telling the client our clock (§3.4)."""
    tsm = compute_mac(key, f"hawk.1.ts\n{now}\n")
    return f'Hawk ts="{now}", tsm="{tsm}", error="Stale timestamp"'


def hawk_header(
    method: str, url: str, id: str, key: str | bytes, *,
    ts: int | None = None, nonce: str | None = None, hash: str = "", ext: str = "",
) -> str:
    """Sign a request to `url` (scheme://host[:port]/path[?query]) the way
    Firefox does: host and port from the URL, path and query as written.
    `key` is the derived secret from the tokenserver (used as ASCII bytes)."""
    parts = urlsplit(url)
    port = parts.port or DEFAULT_PORTS[parts.scheme]
    path_qs = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    ts = int(time.time()) if ts is None else ts
    # Like Firefox: random bytes in standard base64, so '+', '/', '=' occur.
    nonce = base64.b64encode(os.urandom(6)).decode("ascii") if nonce is None else nonce
    if isinstance(key, str):
        key = key.encode("ascii")
    mac = compute_mac(key, normalized_string(
        ts=str(ts), nonce=nonce, method=method, path_qs=path_qs,
        host=parts.hostname or "", port=port, hash=hash, ext=ext,
    ))
    header = f'Hawk id="{id}", ts="{ts}", nonce="{nonce}", mac="{mac}"'
    if hash:
        header += f', hash="{hash}"'
    if ext:
        header += ', ext="{}"'.format(ext.replace("\\", "\\\\").replace('"', '\\"'))
    return header
