"""Storage work runs on worker threads, never on the event loop (web/api.py):
a request waiting for the database must not hold up the others."""

from __future__ import annotations

import sqlite3
import threading
import time

from sqlalchemy.engine import make_url


def test_requests_waiting_for_the_write_lock_do_not_block_reads(client):
    """More writers wait than there are write threads; reads still run on
    threads of their own (Storage.read_threads / write_threads)."""
    client.upload("col", {"id": "a", "payload": "old"})
    database = make_url(client.settings.effective_database_url).database
    other_process = sqlite3.connect(database, isolation_level=None)
    other_process.execute("BEGIN IMMEDIATE")  # SQLite's write lock, as another worker would
    answers = {}
    writers = [
        threading.Thread(
            target=lambda n=n: answers.setdefault(
                # one collection each: same-collection writes in one 10 ms
                # slot would be conflicts (storage-api §4.3)
                n, client.put(f"/storage/col{n}/w", json={"payload": "new"})
            )
        )
        for n in range(8)  # SQLite gets 4 write threads: all busy, 4 queued
    ]
    try:
        for writer in writers:
            writer.start()
        time.sleep(0.3)  # the PUTs now wait for the lock on storage threads
        assert all(writer.is_alive() for writer in writers)
        started = time.monotonic()
        for _ in range(5):
            read = client.get("/storage/col/a")
            assert read.status_code == 200 and read.json()["payload"] == "old"
        assert time.monotonic() - started < 2  # not queued behind the waiting writers
        assert all(writer.is_alive() for writer in writers)
    finally:
        other_process.execute("ROLLBACK")
        other_process.close()
        for writer in writers:
            writer.join(30)
    assert [answers[n].status_code for n in range(8)] == [200] * 8
    assert client.get("/storage/col7/w").json()["payload"] == "new"
