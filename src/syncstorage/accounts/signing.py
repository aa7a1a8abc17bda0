"""The RS256 keys that sign OAuth access tokens (spec accounts.md §5.4, §5.6).

Kept in `<data_dir>/accounts_signing_keys.json` (mode 0600), generated on
first start: a JSON list of `{"kid", "private_key" (PEM), "created"}`, oldest
first. Tokens are signed with the last; `/v1/jwks` lists every key, so after
`syncstorage account rotate-key` (which appends a new key and keeps one
previous) tokens signed before the rotation stay valid until they expire.
A running server reads the file at start.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

FILE_NAME = "accounts_signing_keys.json"
KEPT_KEYS = 2  # the current one and the previous one


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: rsa.RSAPrivateKey

    def public_jwk(self) -> dict[str, Any]:
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(self.private_key.public_key(), as_dict=True)
        return {"kty": "RSA", "alg": "RS256", "use": "sig", "kid": self.kid, "n": jwk["n"], "e": jwk["e"]}


def _new_entry() -> dict[str, Any]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")
    created = int(time.time())
    return {"kid": f"{time.strftime('%Y%m%d', time.gmtime(created))}-{secrets.token_hex(4)}",
            "private_key": pem, "created": created}


def _parse(entries: Any, path: Path) -> list[SigningKey]:
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"{path} is not a list of keys")
    keys = []
    for entry in entries:
        key = serialization.load_pem_private_key(entry["private_key"].encode("ascii"), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError(f"{path}: key {entry.get('kid')!r} is not an RSA key")
        keys.append(SigningKey(str(entry["kid"]), key))
    return keys


def _write_new(path: Path, entries: list[dict[str, Any]]) -> None:
    """Replace the file atomically, private to the server's user."""
    temporary = path.with_suffix(f".{secrets.token_hex(4)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(entries, f, indent=1)
    os.replace(temporary, path)


def load_or_create(data_dir: Path) -> tuple[list[SigningKey], bool]:
    """(keys oldest first, whether they were just generated)."""
    path = data_dir / FILE_NAME
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        # O_EXCL: two workers starting at once never both generate a key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _parse(json.loads(path.read_text(encoding="utf-8")), path), False
    entries = [_new_entry()]
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(entries, f, indent=1)
    return _parse(entries, path), True


def rotate(data_dir: Path) -> list[SigningKey]:
    """Append a new key; keep it and the previous one."""
    path = data_dir / FILE_NAME
    load_or_create(data_dir)
    entries = json.loads(path.read_text(encoding="utf-8"))
    entries = [*entries, _new_entry()][-KEPT_KEYS:]
    _write_new(path, entries)
    return _parse(entries, path)
