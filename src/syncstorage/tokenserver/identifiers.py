"""The identifiers a token carries besides the uid (auth-and-tokens §11.3)."""

from __future__ import annotations

import base64
import hashlib
import hmac


def fxa_kid(keys_changed_at: int, client_state_hex: str) -> str:
    """`<13-digit keys_changed_at>-<client state as URL-safe base64, unpadded>`."""
    state = base64.urlsafe_b64encode(bytes.fromhex(client_state_hex)).rstrip(b"=").decode()
    return f"{keys_changed_at:013d}-{state}"


def metrics_hash(secret: str, value: str) -> str:
    return hmac.new(secret.encode(), value.encode(), hashlib.sha256).hexdigest()[:32]


def hashed_ids(secret: str, fxa_uid: str) -> tuple[str, str]:
    """(hashed_fxa_uid, hashed_device_id); OAuth gives no device id, hence "none"."""
    hashed_fxa_uid = metrics_hash(secret, fxa_uid)
    return hashed_fxa_uid, metrics_hash(secret, hashed_fxa_uid + "none")
