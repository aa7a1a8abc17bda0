"""The onepw primitives of spec accounts.md §4 (server side).

HKDF is RFC 5869 with SHA-256 and an empty salt; `kw(name)` is the
`identity.mozilla.com/picl/v1/<name>` info string of every derivation.
The password verifier is scrypt (N=2^16, r=8, p=1: 64 MiB and a few hundred
milliseconds per attempt), so a stolen database costs that much per
password guess, and wraps the stored `wrapKb` so the server never holds kB.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

NAMESPACE = "identity.mozilla.com/picl/v1/"

# verifier_version 1: the scrypt parameters below (record per account, so
# they can be raised later without breaking old accounts).
VERIFIER_VERSION = 1
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**16, 8, 1
_SCRYPT_MAXMEM = 2 * 128 * SCRYPT_N * SCRYPT_R * SCRYPT_P


def kw(name: str) -> bytes:
    return (NAMESPACE + name).encode("ascii")


def hkdf(ikm: bytes, info: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(ikm)


def xor(a: bytes, b: bytes) -> bytes:
    if len(a) != len(b):
        raise ValueError("xor of unequal lengths")
    return bytes(x ^ y for x, y in zip(a, b))


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def equal(a: bytes | str, b: bytes | str) -> bool:
    """Constant-time comparison (spec §8.2)."""
    if isinstance(a, str):
        a = a.encode("utf-8")
    if isinstance(b, str):
        b = b.encode("utf-8")
    return hmac.compare_digest(a, b)


@dataclass(frozen=True, slots=True)
class TokenKeys:
    """§4.5: what a token seed expands to."""

    token_id: str  # 64 hex: the Hawk id and the database key
    hmac_key: bytes  # the Hawk key
    extra: bytes  # keyRequestKey for key-fetch tokens


def token_keys(seed: bytes, token_type: str) -> TokenKeys:
    out = hkdf(seed, kw(token_type), 96)
    return TokenKeys(out[:32].hex(), out[32:64], out[64:])


def new_seed() -> bytes:
    return secrets.token_bytes(32)


@dataclass(frozen=True, slots=True)
class Verifier:
    """What the server keeps of a password (§4.3)."""

    auth_salt: bytes
    verify_hash: bytes
    wrapwrap_key: bytes


def stretch(auth_pw: bytes, auth_salt: bytes) -> Verifier:
    stretched = hashlib.scrypt(
        auth_pw, salt=auth_salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, maxmem=_SCRYPT_MAXMEM, dklen=32
    )
    return Verifier(
        auth_salt=auth_salt,
        verify_hash=hkdf(stretched, kw("verifyHash"), 32),
        wrapwrap_key=hkdf(stretched, kw("wrapwrapKey"), 32),
    )


def key_bundle(key_request_key: bytes, ka: bytes, wrap_kb: bytes) -> str:
    """§4.7: kA ‖ wrapKb encrypted and MACed for the key-fetch token holder."""
    derived = hkdf(key_request_key, kw("account/keys"), 96)
    resp_hmac_key, resp_xor_key = derived[:32], derived[32:]
    ciphertext = xor(ka + wrap_kb, resp_xor_key)
    return (ciphertext + hmac.digest(resp_hmac_key, ciphertext, "sha256")).hex()
