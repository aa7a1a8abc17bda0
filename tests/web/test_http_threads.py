"""Storage work runs on worker threads (web/api.py): a request waiting for
the database must not hold up the others. Only small reads that cannot
wait (SQLite, in-process nonces) run on the event loop."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
from sqlalchemy.engine import make_url


def test_requests_waiting_for_the_write_lock_do_not_block_reads(client, monkeypatch):
    """More writers wait than there are write threads; reads still run on
    threads of their own (Storage.read_threads / write_threads)."""
    client.upload("col", {"id": "a", "payload": "old"})
    from syncstorage.storage.sql import SQLStorage

    # the write sessions started, each holding a write thread while it waits
    writing, original = threading.Semaphore(0), SQLStorage.session

    def counting(self, userid, collection=None, *, write=False, **options):
        if write:
            writing.release()
        return original(self, userid, collection, write=write, **options)

    monkeypatch.setattr(SQLStorage, "session", counting)
    probe = SQLStorage(client.settings.effective_database_url)  # as create_app makes it
    threads = probe.write_threads
    probe.close()
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
        for n in range(threads + 4)  # all write threads busy, 4 PUTs queued
    ]
    try:
        for writer in writers:
            writer.start()
        for _ in range(threads):  # every write thread now waits for the lock
            assert writing.acquire(timeout=10)
        assert not writing.acquire(timeout=0.1)  # and no fifth: the other PUTs queue
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
    assert [answers[n].status_code for n in range(threads + 4)] == [200] * (threads + 4)
    assert client.get(f"/storage/col{threads + 3}/w").json()["payload"] == "new"


def _session_threads(client, monkeypatch, requests) -> list[str]:
    """The name of the thread each request's storage work ran on: its
    session, or for info/collections its one read (user_timestamps)."""
    from syncstorage.storage.sql import SQLStorage

    names = []

    def recording(original):
        def record(self, *args, **kwargs):
            names.append(threading.current_thread().name)
            return original(self, *args, **kwargs)

        return record

    monkeypatch.setattr(SQLStorage, "session", recording(SQLStorage.session))
    monkeypatch.setattr(SQLStorage, "user_timestamps", recording(SQLStorage.user_timestamps))
    for method, path in requests:
        assert client.request(method, path).status_code == 200
    return names


SMALL_AND_LARGE = [
    ("GET", "/info/collections"),
    ("GET", "/storage/col/a"),
    ("GET", "/storage/col?full=1"),  # a listing: its size is the client's choice
    ("GET", "/info/collection_counts"),  # counts every item of the user
]


def test_small_reads_run_on_the_event_loop_on_sqlite(client, monkeypatch):
    client.upload("col", {"id": "a", "payload": "x"})
    names = _session_threads(client, monkeypatch, SMALL_AND_LARGE)
    small, large = names[:2], names[2:]
    assert not any(name.startswith(("read", "write")) for name in small), names
    assert all(name.startswith("read") for name in large), names


def test_reads_that_may_wait_run_on_threads(make_client, sqlite_url, redis_url, monkeypatch):
    """With a shared nonce store authentication is a network round trip,
    so even a small read leaves the event loop."""
    client = make_client(sqlite_url, nonce_store_url=redis_url)
    client.upload("col", {"id": "a", "payload": "x"})
    names = _session_threads(client, monkeypatch, SMALL_AND_LARGE)
    assert all(name.startswith("read") for name in names), names


def test_server_database_reads_run_on_threads(make_client, database_url, monkeypatch):
    """A server database answers over the network: no read runs on the loop."""
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite reads never wait (the test above)")
    client = make_client(database_url)
    client.upload("col", {"id": "a", "payload": "x"})
    names = _session_threads(client, monkeypatch, SMALL_AND_LARGE)
    assert all(name.startswith("read") for name in names), names
