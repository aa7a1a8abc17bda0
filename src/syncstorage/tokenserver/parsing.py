"""Parsing the tokenserver request's headers and query (auth-and-tokens §6)."""

from __future__ import annotations

import base64
import binascii
import re

from syncstorage.tokenserver import errors
from syncstorage.tokenserver.records import KeyClaims

_CLIENT_STATE_HEADER = re.compile(r"[a-zA-Z0-9._-]{1,32}")
# At most 18 digits: a BIGINT column holds them, and int() of more than
# 4300 digits raises (a 500 on the old unbounded pattern, issue 10).
_DECIMAL = re.compile(r"[0-9]{1,18}")
_B64URL_UNPADDED = re.compile(r"[A-Za-z0-9_-]*")
MAX_CLIENT_STATE_BYTES = 16


def token_duration(query_value: str | None, configured: int) -> int:
    """§6.1: a valid shorter duration is honoured; anything else is the default."""
    if query_value is not None and _DECIMAL.fullmatch(query_value):
        value = int(query_value)
        if 0 < value <= configured:
            return value
    return configured


def check_client_state_header(value: str | None) -> None:
    if value is not None and not _CLIENT_STATE_HEADER.fullmatch(value):
        raise errors.invalid_client_state_value("malformed X-Client-State header")


def bearer_value(authorization: str | None) -> str:
    """§6.2: split at the first space only; the rest is the opaque bearer value."""
    if authorization is None:
        raise errors.unauthorized("missing Authorization header")
    if " " not in authorization:
        raise errors.unauthorized("Authorization header without a space after the scheme")
    scheme, value = authorization.split(" ", 1)
    if scheme.lower() != "bearer":
        raise errors.unsupported_scheme()
    # Starlette decodes header bytes as latin-1; give back the bytes the
    # client sent, read as UTF-8 where they are UTF-8.
    raw = value.encode("latin-1")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return value


def key_claims(key_id: str | None, client_state_header: str | None, generation: int | None) -> KeyClaims:
    """§6.2/§6.3 step 5-6: keys_changed_at and client state from X-KeyID."""
    if key_id is None:
        raise errors.missing_key_id()
    kca_text, sep, state_b64 = key_id.partition("-")
    if not sep or not _DECIMAL.fullmatch(kca_text) or not _B64URL_UNPADDED.fullmatch(state_b64):
        raise errors.invalid_credentials("malformed X-KeyID header")
    try:
        state = base64.urlsafe_b64decode(state_b64 + "=" * (-len(state_b64) % 4))
    except (binascii.Error, ValueError) as exc:
        raise errors.invalid_credentials("X-KeyID client state is not base64url") from exc
    if len(state) > MAX_CLIENT_STATE_BYTES:
        raise errors.invalid_client_state_value("X-KeyID client state longer than 16 bytes")
    client_state = state.hex()
    if client_state_header is not None and client_state_header.lower() != client_state:
        raise errors.client_state_mismatch()
    keys_changed_at = int(kca_text)
    return KeyClaims(
        generation=generation or None,  # zero means absent
        keys_changed_at=keys_changed_at or None,
        client_state=client_state,
    )
