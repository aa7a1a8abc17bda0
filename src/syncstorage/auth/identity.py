"""What authentication answers: the caller's `Identity`, or an `AuthError`.

Apart from the package's __init__ so that the modules raising and returning
them (authenticator, hawk, tokens) need not import the package that
imports them.
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
