"""Authentication of storage requests: tokenlib tokens and Hawk signatures.

The HTTP layer calls `HawkAuthenticator.authenticate` once per `/1.5/`
request; it returns the caller's `Identity` or raises `AuthError`, whose
`reason` says precisely which check failed (for logs, never for the client:
the client only ever sees 401 with body `0`).

Spec: auth-and-tokens.md §2-§5.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Identity:
    """Who signed the request, from the verified token payload."""

    uid: int
    fxa_uid: str | None = None
    fxa_kid: str | None = None
    hashed_fxa_uid: str | None = None
    hashed_device_id: str | None = None


class AuthError(Exception):
    """Authentication failed; answered 401 with body 0.

    `reason` is a short machine-friendly phrase such as "invalid mac",
    "replayed nonce", "stale timestamp", "expired token", "node mismatch",
    "uid mismatch"; `www_authenticate` is the header value to send, if any.
    """

    def __init__(self, reason: str, www_authenticate: str = "Hawk") -> None:
        super().__init__(reason)
        self.reason = reason
        self.www_authenticate = www_authenticate


# Imported last: these modules import Identity and AuthError from here.
from syncstorage.auth.authenticator import HawkAuthenticator  # noqa: E402
from syncstorage.auth.hawk import hawk_header  # noqa: E402
from syncstorage.auth.nonces import (  # noqa: E402
    MemoryNonceStore,
    NonceStoreUnavailable,
    RedisNonceStore,
    make_nonce_store,
)
from syncstorage.auth.tokens import derived_secret, make_token  # noqa: E402

__all__ = [
    "AuthError",
    "HawkAuthenticator",
    "Identity",
    "MemoryNonceStore",
    "NonceStoreUnavailable",
    "RedisNonceStore",
    "derived_secret",
    "hawk_header",
    "make_nonce_store",
    "make_token",
]
