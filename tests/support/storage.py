"""Helpers of the storage tests."""

from __future__ import annotations

import time

from syncstorage.storage import ConflictError


def write(storage, userid, collection, action, *, attempts=20):
    """Run `action(session)` in a write session, retrying the same-10-ms
    conflicts that back-to-back writes get (the HTTP layer retries too)."""
    for _ in range(attempts):
        try:
            with storage.session(userid, collection, write=True) as session:
                return action(session)
        except ConflictError:
            time.sleep(0.01)
    raise AssertionError("write kept conflicting")


def read(storage, userid, collection, action):
    with storage.session(userid, collection) as session:
        return action(session)
