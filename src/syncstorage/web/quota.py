"""Quota (storage-api §13): off by default, checked before every PUT/POST write."""

from __future__ import annotations

from syncstorage.storage import Session
from syncstorage.web.errors import OVER_QUOTA, HTTPError

_WARN_BELOW = 1_048_576  # bytes left under which clients are told (§13 Decision)


def check_quota(limit: int | None, session: Session, new_bytes: int) -> dict[str, str]:
    """403 body 14 when the write would leave nothing; otherwise the
    X-Weave-Quota-Remaining header to send (empty when quota is off or
    plenty is left). Call inside the write session, before writing."""
    if limit is None:
        return {}
    left = limit - session.total_size() - new_bytes
    if left <= 0:
        raise HTTPError(403, OVER_QUOTA)
    if left < _WARN_BELOW:
        return {"X-Weave-Quota-Remaining": str(round(left / 1024, 2))}
    return {}
