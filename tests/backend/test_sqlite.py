"""SQLite specifics: WAL, durability, no transaction left open (issue 2)."""

from __future__ import annotations

import sqlite3

import pytest

from backend.support import read, write
from syncstorage.storage import BSOUpdate, ItemQuery


@pytest.fixture
def backend_name() -> str:
    return "sqlite"


@pytest.fixture
def layout_name() -> str:
    return "unsharded"


def test_connections_use_wal_and_full_sync(storage):
    with storage.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10_000


def test_no_transaction_stays_open_between_sessions(storage):
    """A pooled connection holding a read snapshot would block checkpoints
    and let the WAL grow forever."""
    write(storage, 1, "bookmarks", lambda s: s.set_items([BSOUpdate("a", payload="p")]))
    for _ in range(3):
        read(storage, 1, "bookmarks", lambda s: s.find_items(ItemQuery(full=True)))
        read(storage, 1, None, lambda s: s.collection_counts())
    with pytest.raises(RuntimeError):
        with storage.session(1, "bookmarks") as session:
            session.get_item("a")
            raise RuntimeError("request failed after reading")
    assert storage.engine.pool.checkedin() >= 1
    direct = sqlite3.connect(storage.url.database)
    try:
        busy, _log, _done = direct.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    finally:
        direct.close()
    assert busy == 0
