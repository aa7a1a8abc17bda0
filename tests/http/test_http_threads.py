"""Storage work runs on worker threads, never on the event loop (web/api.py):
a request waiting for the database must not hold up the others."""

from __future__ import annotations

import sqlite3
import threading
import time

from sqlalchemy.engine import make_url


def test_request_waiting_for_the_write_lock_does_not_block_reads(client):
    client.upload("col", {"id": "a", "payload": "old"})
    database = make_url(client.settings.effective_database_url).database
    other_process = sqlite3.connect(database, isolation_level=None)
    other_process.execute("BEGIN IMMEDIATE")  # SQLite's write lock, as another worker would
    answers = {}
    writer = threading.Thread(
        target=lambda: answers.setdefault("put", client.put("/storage/col/a", json={"payload": "new"}))
    )
    try:
        writer.start()
        time.sleep(0.3)  # the PUT now waits for the lock on a storage thread
        assert writer.is_alive()
        started = time.monotonic()
        for _ in range(5):
            read = client.get("/storage/col/a")
            assert read.status_code == 200 and read.json()["payload"] == "old"
        assert time.monotonic() - started < 2  # not queued behind the waiting writer
        assert writer.is_alive()
    finally:
        other_process.execute("ROLLBACK")
        other_process.close()
        writer.join(30)
    assert answers["put"].status_code == 200
    assert client.get("/storage/col/a").json()["payload"] == "new"
