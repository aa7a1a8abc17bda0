"""The admin token's hash: scrypt (hashlib, no new dependency) in the PHC
string format passlib and others write:

    $scrypt$ln=15,r=8,p=1$<salt, base64>$<hash, base64>

The settings hold only this string (settings.admin_token); the token itself
is typed into the sign-in form. Verifying costs about 32 MiB and tens of
milliseconds on purpose, which is also why sign-in attempts are rate
limited (admin/signin.py). At the bottom of the layers so that settings
can refuse a malformed hash at start.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

ADMIN_TOKEN_HASH_PREFIX = "$scrypt$"
LOG2_N, R, P = 15, 8, 1  # the parameters OWASP lists for scrypt
SALT_BYTES, HASH_BYTES = 16, 32
MIN_TOKEN_CHARACTERS = 16
MAX_TOKEN_CHARACTERS = 1024  # longer input is refused before any hashing
_MAXMEM = 256 * 1024 * 1024  # above 128 * r * n for every accepted ln (<= 20)
_PHC = re.compile(
    re.escape(ADMIN_TOKEN_HASH_PREFIX)
    + r"ln=(?P<ln>\d{1,2}),r=(?P<r>\d{1,2}),p=(?P<p>\d{1,2})\$(?P<salt>[A-Za-z0-9+/]+)\$(?P<hash>[A-Za-z0-9+/]+)"
)


class BadTokenHash(ValueError):
    pass


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def hash_token(token: str, *, log2_n: int = LOG2_N) -> str:
    salt = secrets.token_bytes(SALT_BYTES)
    digest = hashlib.scrypt(token.encode(), salt=salt, n=2**log2_n, r=R, p=P, maxmem=_MAXMEM, dklen=HASH_BYTES)
    return f"{ADMIN_TOKEN_HASH_PREFIX}ln={log2_n},r={R},p={P}${_b64(salt)}${_b64(digest)}"


class TokenHash:
    """A parsed admin_token; `matches` compares in constant time."""

    def __init__(self, phc: str) -> None:
        found = _PHC.fullmatch(phc)
        if found is None:
            raise BadTokenHash("admin_token is not a $scrypt$ln=..,r=..,p=..$salt$hash string")
        self.log2_n, self.r, self.p = int(found["ln"]), int(found["r"]), int(found["p"])
        if not (1 <= self.log2_n <= 20 and 1 <= self.r <= 16 and 1 <= self.p <= 4):
            raise BadTokenHash("admin_token's scrypt parameters are out of range (ln 1-20, r 1-16, p 1-4)")
        self.salt, self.digest = _unb64(found["salt"]), _unb64(found["hash"])

    def matches(self, token: str) -> bool:
        if not token or len(token) > MAX_TOKEN_CHARACTERS:
            return False
        digest = hashlib.scrypt(
            token.encode(), salt=self.salt, n=2**self.log2_n, r=self.r, p=self.p,
            maxmem=_MAXMEM, dklen=len(self.digest),
        )
        return hmac.compare_digest(digest, self.digest)
