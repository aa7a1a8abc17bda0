"""Authentication of storage requests: tokenlib tokens and Hawk signatures.

The HTTP layer calls `HawkAuthenticator.authenticate` once per `/1.5/`
request; it returns the caller's `Identity` or raises `AuthError`, whose
`reason` says precisely which check failed (for logs, never for the client:
the client only ever sees 401 with body `0`).

Spec: auth-and-tokens.md §2-§5.
"""

from __future__ import annotations

from syncstorage.auth.authenticator import HawkAuthenticator
from syncstorage.auth.hawk import hawk_header
from syncstorage.auth.identity import AuthError, Identity
from syncstorage.auth.nonces import (
    MemoryNonceStore,
    NonceStoreUnavailable,
    RedisNonceStore,
    make_nonce_store,
)
from syncstorage.auth.tokens import derived_secret, make_token

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
