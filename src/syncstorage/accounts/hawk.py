"""Hawk on the accounts API (spec accounts.md §4.6), over the token tables.

The header grammar, normalized string and MAC are the storage API's
(`syncstorage.auth.hawk`); what differs is where the key comes from (the
token row found by the Hawk id), the payload hash (required with a body),
and the answers: FxA errnos 109/110/111/115 instead of a bare 401.

The MAC covers the host, port and path of `accounts_public_url`, the URL
Firefox was given, whatever Host header a reverse proxy passes on.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from syncstorage.accounts import errors
from syncstorage.accounts.crypto import equal
from syncstorage.auth.hawk import DEFAULT_PORTS, compute_mac, normalized_string, parse_authorization
from syncstorage.auth.identity import AuthError
from syncstorage.auth.nonces import NonceStore, nonce_key

_TOKEN_ID = re.compile(r"[0-9a-fA-F]{64}")


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """The parts of an HTTP request a Hawk MAC covers."""

    method: str
    path_qs: str  # as routed (public path prefix removed), query included
    authorization: str | None
    content_type: str
    body: bytes


def payload_hash(content_type: str, body: bytes) -> str:
    media_type = content_type.split(";", 1)[0].strip().lower()
    digest = hashlib.sha256(b"hawk.1.payload\n" + media_type.encode("latin-1") + b"\n" + body + b"\n")
    return base64.b64encode(digest.digest()).decode("ascii")


class HawkVerifier:
    def __init__(self, public_url: str, nonce_store: NonceStore, skew: int, clock: Callable[[], float]) -> None:
        parts = urlsplit(public_url)
        self._host = (parts.hostname or "").lower()
        self._port = str(parts.port or DEFAULT_PORTS[parts.scheme.lower()])
        self._prefix = parts.path.rstrip("/")
        self._nonces = nonce_store
        self._skew = skew
        self._clock = clock

    def token_id(self, request: SignedRequest) -> tuple[str, dict[str, str]]:
        """The Hawk id (lower-case hex) and attributes, or 401."""
        if not request.authorization:
            raise errors.invalid_auth_token("no Authorization header")
        try:
            attributes = parse_authorization(request.authorization)
        except AuthError as exc:
            raise errors.invalid_signature(exc.reason) from None
        if not _TOKEN_ID.fullmatch(attributes["id"]):
            raise errors.invalid_auth_token("Hawk id is not a token id")
        return attributes["id"].lower(), attributes

    def check(self, request: SignedRequest, attributes: dict[str, str], key: bytes) -> None:
        """MAC, payload hash, timestamp, then nonce (§4.6), or 401."""
        given_hash = attributes.get("hash", "")
        expected = compute_mac(key, normalized_string(
            ts=attributes["ts"], nonce=attributes["nonce"], method=request.method,
            path_qs=self._prefix + request.path_qs, host=self._host, port=self._port,
            hash=given_hash, ext=attributes.get("ext", ""),
        ))
        if not equal(expected, attributes["mac"]):
            raise errors.invalid_signature("invalid mac")
        # Firefox hashes the payload "{}" (as text/plain) of its GETs too, but
        # sends no body (hawkclient's default payloadObj, computeHAWK): the
        # hash of a request without a body is covered by the MAC, not checked.
        if request.body:
            if not given_hash:
                raise errors.invalid_signature("a request with a body must carry its payload hash")
            if not equal(payload_hash(request.content_type, request.body), given_hash):
                raise errors.invalid_signature("payload hash does not match the body")
        now = self._clock()
        ts = int(attributes["ts"])
        if abs(ts - now) > self._skew:
            raise errors.invalid_timestamp(int(now))
        if not self._nonces.add(nonce_key(attributes["id"], attributes["nonce"]), ts + self._skew, now):
            raise errors.invalid_nonce()
