"""SQLite specifics: WAL, durability, no transaction left open (issue 2)."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest

from backend.support import read, write
from syncstorage.storage import BSOUpdate, ConflictError, ItemQuery
from syncstorage.storage.sql import SQLStorage


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


def _hold_write_lock(storage, seconds: float) -> tuple[threading.Thread, list[float]]:
    """Start a thread holding a write session for `seconds`; it records the
    time it committed."""
    locked, committed = threading.Event(), []

    def hold():
        with storage.session(1, "bookmarks", write=True) as session:
            session.set_items([BSOUpdate("held")])
            locked.set()
            time.sleep(seconds)
        committed.append(time.monotonic())

    thread = threading.Thread(target=hold)
    thread.start()
    assert locked.wait(10)
    return thread, committed


def test_waiting_writer_starts_as_soon_as_the_lock_is_free(storage):
    """Writers of one process queue on a lock instead of SQLite's busy
    handler, whose sleeps grow to 100 ms and would let a waiting writer
    sleep while the lock is free (docs/performance.md, change 1)."""
    write(storage, 1, "bookmarks", lambda s: s.set_items([BSOUpdate("a")]))
    delays = []
    for _ in range(3):
        thread, committed = _hold_write_lock(storage, 0.7)
        with storage.session(1, "bookmarks", write=True) as session:
            started = time.monotonic()
            session.set_items([BSOUpdate("b")])
        thread.join()
        delays.append(started - committed[0])
    # the busy handler would wake 0-100 ms (50 on average) after the commit
    assert max(delays) < 0.03, delays


def test_queued_writer_times_out_as_a_conflict(storage_url, layout):
    """The in-process queue keeps the busy handler's bound: a writer waiting
    longer than lock_timeout gets a ConflictError (storage-model §5.4)."""
    storage = SQLStorage(storage_url, lock_timeout=0.3, **layout)
    try:
        write(storage, 1, "bookmarks", lambda s: s.set_items([BSOUpdate("a")]))
        thread, _committed = _hold_write_lock(storage, 1.0)
        try:
            with pytest.raises(ConflictError):
                with storage.session(1, "bookmarks", write=True) as session:
                    session.set_items([BSOUpdate("c")])
            # readers never queue behind a writer (WAL snapshot)
            assert read(storage, 1, "bookmarks", lambda s: s.get_item("a")) is not None
        finally:
            thread.join()
        assert read(storage, 1, "bookmarks", lambda s: s.get_item("c")) is None
    finally:
        storage.close()
