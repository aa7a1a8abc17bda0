"""Benchmark users: tokens minted from the master secret, Hawk-signed requests.

The bench passes its own master secret to the server, so it mints tokens
exactly as the tokenserver would (auth-and-tokens §2) and signs every request
as Firefox does (§3), with the project's own token and Hawk code. Each
request gets a fresh nonce: the server refuses replays.
"""

from __future__ import annotations

from dataclasses import dataclass

from syncstorage.auth import derived_secret, hawk_header, make_token

TOKEN_SECONDS = 6 * 3600  # longer than any run; the server checks expiry (§5 step 5)


@dataclass(slots=True)
class User:
    uid: int
    token: str
    key: bytes  # the Hawk key: ASCII bytes of the derived secret
    origin: str  # http://host:port, as the client signs it

    @classmethod
    def mint(cls, uid: int, secret: str, node: str) -> User:
        fxa_uid = f"{uid:032x}"
        payload = {
            "uid": uid,
            "node": node,
            "fxa_uid": fxa_uid,
            "fxa_kid": f"{1700000000000:013d}-qqo",
            "hashed_fxa_uid": fxa_uid,
            "hashed_device_id": fxa_uid[::-1],
        }
        token = make_token(payload, secret, duration=TOKEN_SECONDS)
        return cls(uid, token, derived_secret(token, secret).encode("ascii"), node)

    def authorization(self, method: str, target: str) -> str:
        """The `Authorization: Hawk ...` header line for this request."""
        header = hawk_header(method, self.origin + target, self.token, self.key)
        return f"Authorization: {header}\r\n"
