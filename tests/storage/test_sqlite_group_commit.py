"""Group commit of SQLite writers (db/sqlite_writes.py, issue 6):
writers queued in one process share one COMMIT, and each still returns
only once its own work is on disk. Real SQLite files, real threads."""

from __future__ import annotations

import contextlib
import resource
import signal
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from support.storage import read, write
from support.databases import fresh_database_url
from syncstorage.storage import BSOUpdate, ConflictError, StorageError, UnavailableError
from syncstorage import db
from syncstorage.storage.sql import SQLStorage, migrate


@pytest.fixture
def backend_name() -> str:
    return "sqlite"


@pytest.fixture
def layout_name() -> str:
    return "unsharded"


class Commits:
    """Counts the COMMITs of write transactions (readers commit too)."""

    def __init__(self, storage: SQLStorage):
        self.count = 0
        self._engine = storage.engine
        sa.event.listen(self._engine, "commit", self._on_commit)

    def _on_commit(self, conn):
        if conn.get_execution_options().get(db.WRITE_OPTION):
            self.count += 1

    def stop(self) -> None:
        sa.event.remove(self._engine, "commit", self._on_commit)


@pytest.fixture
def commits(storage):
    counter = Commits(storage)
    yield counter
    counter.stop()


def wait_for_queue(storage: SQLStorage, writers: int) -> None:
    """Wait until `writers` writers wait for the turn (the group's own
    count, read only to order the threads of a test)."""
    deadline = time.monotonic() + 10
    while storage.writers._writes._waiting < writers:
        assert time.monotonic() < deadline, "writers did not queue"
        time.sleep(0.005)


def run_group(storage, first, others):
    """`first(session)` runs in a write session that ends only once every
    action of `others` waits for the turn, so all of them meet in one group
    (unless one fails it). Each action is (userid, collection, action);
    returns {index: result or exception}, index 0 being `first`."""
    results: dict[int, object] = {}

    def run(index, userid, collection, action):
        try:
            with storage.session(userid, collection, write=True) as session:
                results[index] = action(session)
        except Exception as exc:  # noqa: BLE001 - the test looks at it
            results[index] = exc

    started = threading.Event()

    def lead(session):
        started.set()
        value = first(session)
        wait_for_queue(storage, len(others))
        return value

    with ThreadPoolExecutor(len(others) + 1) as pool:
        futures = [pool.submit(run, 0, 1, "bookmarks", lead)]
        deadline = time.monotonic() + 10
        while not started.wait(0.01):
            assert not futures[0].done() and time.monotonic() < deadline, results
        futures += [pool.submit(run, i, *other) for i, other in enumerate(others, 1)]
        for future in futures:
            future.result(timeout=60)
    return results


def items(userid, *ids):
    return lambda s: s.set_items([BSOUpdate(i, payload=f"{userid}:{i}") for i in ids])


def stored(storage, userid, collection, id):
    return read(storage, userid, collection, lambda s: s.get_item(id))


def test_queued_writers_share_one_commit(storage, commits):
    results = run_group(
        storage, items(1, "a"), [(2, "bookmarks", items(2, "b")), (3, "history", items(3, "c"))]
    )
    assert all(isinstance(r, int) for r in results.values()), results
    assert commits.count == 1
    written = [(1, "bookmarks", "a"), (2, "bookmarks", "b"), (3, "history", "c")]
    for userid, collection, id in written:
        bso = stored(storage, userid, collection, id)
        assert bso.payload == f"{userid}:{id}"
        # each member keeps its own timestamp, taken after its lock
        assert bso.modified == results[userid - 1]


def test_many_concurrent_writers_commit_less_often_than_they_write(storage, commits):
    threads, writes = 8, 10

    def writer(userid):
        for n in range(writes):
            def slow(session, n=n):
                session.set_items([BSOUpdate(f"i{n}", payload=str(n))])
                time.sleep(0.002)  # let the others queue behind this one

            write(storage, userid, "history", slow)

    with ThreadPoolExecutor(threads) as pool:
        for future in [pool.submit(writer, userid) for userid in range(1, threads + 1)]:
            future.result(timeout=120)
    assert commits.count < threads * writes / 2, commits.count
    for userid in range(1, threads + 1):
        counts = read(storage, userid, None, lambda s: s.collection_counts())
        assert counts == {"history": writes}


def test_a_failing_member_leaves_nothing_and_the_others_commit(storage, commits):
    class Failed(Exception):
        pass

    def fail(session):
        session.set_items([BSOUpdate("x", payload="lost")])
        raise Failed

    results = run_group(
        storage, items(1, "a"), [(2, "bookmarks", fail), (3, "bookmarks", items(3, "c"))]
    )
    assert isinstance(results[1], Failed)
    assert isinstance(results[0], int) and isinstance(results[2], int), results
    assert commits.count == 1
    assert stored(storage, 2, "bookmarks", "x") is None
    assert read(storage, 2, None, lambda s: s.collection_timestamps()) == {}
    assert stored(storage, 1, "bookmarks", "a") is not None
    assert stored(storage, 3, "bookmarks", "c") is not None


def test_conflict_rule_between_members_of_one_group(storage, commits, monkeypatch):
    """A member sees the earlier members' uncommitted writes (one
    transaction), so the conflict rule (storage-model §5.3) holds inside a
    group: here every request gets the same `now`, the second writer of the
    collection conflicts, and only its own work is undone."""
    write(storage, 1, "bookmarks", items(1, "old"))
    frozen = read(storage, 1, "bookmarks", lambda s: s.collection_timestamp()) + 1000
    monkeypatch.setattr(storage, "clock", SimpleNamespace(now_ms=lambda: frozen, time=lambda: frozen / 1000))
    # a frozen clock never reaches the next tick: do not wait for it, and
    # let the collection's second writer into the group (CollectionQueue
    # would hold it until the first one's tick, and so its commit)
    monkeypatch.setattr("syncstorage.storage.sql.session.MAX_TICK_WAIT_MS", 0)
    monkeypatch.setattr(storage.writers, "collection_writers", lambda *key: contextlib.nullcontext())
    before = commits.count
    results = run_group(
        storage, items(1, "a"), [(1, "bookmarks", items(1, "b")), (2, "bookmarks", items(2, "c"))]
    )
    assert results[0] == frozen and results[2] == frozen, results
    assert isinstance(results[1], ConflictError)
    assert commits.count == before + 1
    assert stored(storage, 1, "bookmarks", "b") is None
    assert stored(storage, 1, "bookmarks", "a").modified == frozen
    assert read(storage, 1, "bookmarks", lambda s: s.collection_timestamp()) == frozen
    assert stored(storage, 2, "bookmarks", "c") is not None


def test_a_member_returns_only_after_the_commit(storage):
    """The first member hands the turn over without committing: it does not
    return before the group commits, readers do not see its write until
    then, and they do see it as soon as its session has returned."""
    started, first_returned, checks = threading.Event(), threading.Event(), {}

    def first():
        with storage.session(1, "bookmarks", write=True) as session:
            started.set()
            session.set_items([BSOUpdate("a")])
            wait_for_queue(storage, 1)
        first_returned.set()
        checks["after return"] = stored(storage, 1, "bookmarks", "a") is not None

    def second(session):
        # the first member is parked on the group's commit (the Event's own
        # waiter list: a member that did not wait would never show there)
        done, deadline = storage.writers._writes._group.done, time.monotonic() + 10
        while not done._cond._waiters and not first_returned.is_set():
            assert time.monotonic() < deadline, "the first member neither waits nor returns"
            time.sleep(0.005)
        checks["returned early"] = first_returned.is_set()
        checks["reader saw it early"] = stored(storage, 1, "bookmarks", "a") is not None
        return session.set_items([BSOUpdate("b")])

    with ThreadPoolExecutor(2) as pool:
        led = pool.submit(first)
        assert started.wait(10)
        followed = pool.submit(write, storage, 2, "bookmarks", second)
        led.result(timeout=60), followed.result(timeout=60)
    assert checks == {"returned early": False, "reader saw it early": False, "after return": True}


def test_a_failed_commit_fails_every_member(storage_url, tmp_path):
    """A real COMMIT failure: the process's file size limit is set to 0 just
    before COMMIT, so SQLite cannot write the WAL (EFBIG, SQLITE_IOERR_WRITE;
    SQLite rolls the transaction back itself). Every member of the group gets
    UnavailableError, nothing of the group is stored, and the next write
    works on a fresh connection."""
    url = fresh_database_url("sqlite", tmp_path, "_commit_failure")  # may be damaged
    migrate.upgrade(url)
    storage = SQLStorage(url)
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)
    armed = threading.Event()

    def on_commit(conn):
        if armed.is_set() and conn.get_execution_options().get(db.WRITE_OPTION):
            armed.clear()
            resource.setrlimit(resource.RLIMIT_FSIZE, (0, limit[1]))

    def on_error(_context):
        resource.setrlimit(resource.RLIMIT_FSIZE, limit)  # before anything else writes

    sa.event.listen(storage.engine, "commit", on_commit)
    sa.event.listen(storage.engine, "handle_error", on_error)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG, not death
    try:
        write(storage, 4, "bookmarks", items(4, "before"))  # user 1 might conflict
        armed.set()
        results = run_group(
            storage, items(1, "a"), [(2, "bookmarks", items(2, "b")), (3, "history", items(3, "c"))]
        )
        assert not armed.is_set()
        assert all(isinstance(r, UnavailableError) for r in results.values()), results
        assert stored(storage, 1, "bookmarks", "a") is None
        assert stored(storage, 2, "bookmarks", "b") is None
        assert stored(storage, 3, "history", "c") is None
        write(storage, 1, "bookmarks", items(1, "after"))
        assert stored(storage, 1, "bookmarks", "after") is not None
        assert stored(storage, 4, "bookmarks", "before") is not None
        with storage.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limit)
        signal.signal(signal.SIGXFSZ, previous)
        storage.close()


def test_a_member_that_ends_the_transaction_fails_the_group(storage, commits):
    """When the whole transaction is gone (SQLite does that by itself on some
    SQLITE_FULL / IOERR / NOMEM errors; here a member's own ROLLBACK), no
    member can be committed: all get an error, nothing is stored, and the
    next writer gets a fresh group."""

    def end_it(session):
        session.set_items([BSOUpdate("x")])
        session.conn.exec_driver_sql("ROLLBACK")

    results = run_group(storage, items(1, "a"), [(2, "bookmarks", end_it)])
    assert isinstance(results[0], StorageError), results  # the member of the group
    assert isinstance(results[1], sa.exc.DBAPIError), results  # RELEASE found no savepoint
    assert commits.count == 0
    for userid, id in [(1, "a"), (2, "x")]:
        assert stored(storage, userid, "bookmarks", id) is None
    write(storage, 1, "bookmarks", items(1, "next"))
    assert stored(storage, 1, "bookmarks", "next") is not None


def test_a_writer_timing_out_in_the_queue_leaves_no_group_open(storage_url, layout):
    """The member that holds the turn when the only waiter gave up commits
    the group itself; the waiter's request is a conflict (→ 503)."""
    storage = SQLStorage(storage_url, lock_timeout=0.2, **layout)
    try:
        in_session = threading.Event()

        def slow(session):
            in_session.set()
            session.set_items([BSOUpdate("a")])
            wait_for_queue(storage, 1)
            time.sleep(0.5)  # the waiter gives up meanwhile

        with ThreadPoolExecutor(1) as pool:
            held = pool.submit(write, storage, 1, "bookmarks", slow)
            assert in_session.wait(10)
            with pytest.raises(ConflictError):
                with storage.session(2, "bookmarks", write=True) as session:
                    session.set_items([BSOUpdate("late")])
            held.result(timeout=30)
        assert stored(storage, 1, "bookmarks", "a") is not None
        assert stored(storage, 2, "bookmarks", "late") is None
        direct = sqlite3.connect(storage.url.database, isolation_level=None, timeout=0)
        try:
            direct.execute("BEGIN IMMEDIATE")  # the write lock is free: no group open
            direct.execute("ROLLBACK")
        finally:
            direct.close()
    finally:
        storage.close()


def test_queued_writers_hold_no_connection(storage_url, layout):
    """The group holds one pooled connection for all its writers, and a
    writer waiting for the turn holds none, so readers still get one: here
    the pool has 2 (1 + 1 overflow), the group one of them."""
    storage = SQLStorage(storage_url, pool_size=1, database_timeout=0.5, **layout)
    try:
        in_session, release = threading.Event(), threading.Event()

        def hold(session):
            session.set_items([BSOUpdate("a")])
            in_session.set()
            release.wait(30)

        with ThreadPoolExecutor(2) as pool:
            held = pool.submit(write, storage, 1, "bookmarks", hold)
            try:
                assert in_session.wait(10)
                queued = pool.submit(write, storage, 2, "bookmarks", items(2, "b"))
                wait_for_queue(storage, 1)
                assert stored(storage, 1, "bookmarks", "a") is None  # not committed yet
            finally:
                release.set()
            held.result(timeout=30), queued.result(timeout=30)
        assert stored(storage, 1, "bookmarks", "a") is not None
        assert stored(storage, 2, "bookmarks", "b") is not None
    finally:
        storage.close()


def test_a_collections_next_writer_waits_for_its_tick_without_the_write_turn(storage, monkeypatch):
    """Consecutive writes to one collection within 10 ms: the second waits
    for the next tick (storage-model §5.3) before it takes the process's
    write turn (CollectionQueue), so other users' writes do not wait with it."""
    real_sleep, turn_held_while_waiting, waits = time.sleep, [], []

    def sleep(seconds):
        waits.append(seconds)
        turn_held_while_waiting.append(storage.writers._writes._turn_taken)
        real_sleep(seconds)

    monkeypatch.setattr("syncstorage.db.sqlite_writes.time.sleep", sleep)
    stamps = []
    for n in range(20):  # on a loaded machine a write may not meet the previous one's tick
        with storage.session(1, "bookmarks", write=True) as session:
            stamps.append(session.set_items([BSOUpdate("a", payload=str(n))]))
    assert stamps == sorted(set(stamps))
    assert waits and all(0 < wait <= 0.02 for wait in waits), waits
    assert not any(turn_held_while_waiting)
