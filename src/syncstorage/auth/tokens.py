"""tokenlib-compatible tokens: mint, verify against rotated secrets, derive keys.

Token = urlsafe-b64(payload JSON bytes ‖ HMAC-SHA256(signing key, payload)),
signing key = HKDF(master secret, info=".../signing") (auth-and-tokens §2).

Minting goes through `tokenlib` itself, so our tokens are Mozilla's tokens.
Verification is written here because tokenlib's `parse_token` knows a single
secret, rejects expired tokens itself (we need the info/collections grace,
§5 step 5) and cannot read tokens without base64 padding (§4 step 1); it
reuses tokenlib's HKDF and info strings so the two cannot drift apart.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
from collections.abc import Sequence

import tokenlib
from tokenlib import HKDF_INFO_DERIVE, HKDF_INFO_SIGNING
from tokenlib.utils import HKDF

from syncstorage.auth.identity import AuthError

SIGNATURE_BYTES = 32  # HMAC-SHA256
DEFAULT_TOKEN_DURATION = 3600  # seconds (auth-and-tokens §15)

_TOKEN_CHARS = re.compile(r"[A-Za-z0-9_-]+={0,2}")


def make_token(payload: dict, secret: str, *, duration: float = DEFAULT_TOKEN_DURATION) -> str:
    """Mint a token for `payload` with `secret` (callers pass the LAST secret
    of the configured list, §2.1). tokenlib adds `salt` and `expires`
    (now + duration) when the payload lacks them."""
    return tokenlib.make_token(payload, secret=secret, timeout=duration)


def derived_secret(token: str, secret: str, salt: str | None = None) -> str:
    """The Hawk key handed to the client with `token` (§2.2): 44 characters
    of urlsafe base64. `salt` is read from the token when not given."""
    if salt is None:
        salt = json.loads(decode_token(token)[:-SIGNATURE_BYTES])["salt"]
    info = HKDF_INFO_DERIVE + token.encode("ascii")
    key = HKDF(secret.encode("utf-8"), salt=salt.encode("ascii"), info=info, size=32)
    return base64.urlsafe_b64encode(key).decode("ascii")


def decode_token(token: str) -> bytes:
    """urlsafe-base64 decode, tolerating missing `=` padding (§4 step 1).
    Raises AuthError("malformed token base64") on anything else."""
    if not _TOKEN_CHARS.fullmatch(token):
        raise AuthError("malformed token base64")
    unpadded = token.rstrip("=")
    try:
        return base64.urlsafe_b64decode(unpadded + "=" * (-len(unpadded) % 4))
    except (binascii.Error, ValueError):
        raise AuthError("malformed token base64") from None


class TokenVerifier:
    """Checks token signatures against an ordered list of master secrets."""

    def __init__(self, secrets: Sequence[str]) -> None:
        if not secrets:
            raise ValueError("at least one master secret is required")
        # The signing keys never change: derive them once, not per request.
        self._signing_keys = [
            (secret, HKDF(secret.encode("utf-8"), salt=None, info=HKDF_INFO_SIGNING, size=32))
            for secret in secrets
        ]

    def verify(self, token: str) -> tuple[dict, str]:
        """Return (payload, secret that signed it); raise AuthError otherwise.

        Secrets are tried in list order and the first match wins (§2.1): that
        secret must also derive the Hawk key (§5 step 7).
        """
        raw = decode_token(token)
        if len(raw) <= SIGNATURE_BYTES:
            raise AuthError("token too short")
        payload, signature = raw[:-SIGNATURE_BYTES], raw[-SIGNATURE_BYTES:]
        for secret, key in self._signing_keys:
            expected = hmac.digest(key, payload, "sha256")
            if hmac.compare_digest(expected, signature):
                break
        else:
            raise AuthError("invalid token signature")
        # Only parsed once the signature matched (§4 step 4).
        try:
            data = json.loads(payload.decode("utf-8"))
        except ValueError:  # UnicodeDecodeError is a ValueError
            raise AuthError("token payload is not JSON") from None
        if not isinstance(data, dict):
            raise AuthError("token payload is not an object")
        return data, secret
