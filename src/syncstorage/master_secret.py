"""The master secret file: generated once, kept in the data directory.

A self-hoster who sets no master secret gets one generated on first start
(issue 2, "Running it"). It lives in `<data_dir>/master_secret`, readable
only by the server's user, so restarts keep every issued token valid.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

FILE_NAME = "master_secret"


def generate_secret() -> str:
    """A new random secret: 32 bytes as 64 hex characters."""
    return secrets.token_hex(32)


def ensure_data_dir(data_dir: Path) -> None:
    """Create the data directory, private to the server's user (0700).

    An existing directory is left as the operator made it."""
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)


def load_or_create(data_dir: Path) -> tuple[str, bool]:
    """Return (secret, created): the stored secret, or a new one written
    to `<data_dir>/master_secret` with mode 0600."""
    path = data_dir / FILE_NAME
    ensure_data_dir(data_dir)
    try:
        # O_EXCL: two processes starting at once never overwrite each other's
        # secret; the loser reads the winner's file below.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        secret = path.read_text(encoding="utf-8").strip()
        if not secret:
            raise ValueError(f"{path} is empty; delete it to generate a new secret")
        return secret, False
    secret = generate_secret()
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(secret + "\n")
    return secret, True


def secret_path(data_dir: Path) -> Path:
    return (data_dir / FILE_NAME).resolve()
