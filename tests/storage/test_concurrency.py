"""Sessions racing on one collection (storage-model §5, issue 3)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from support.storage import read, write
from syncstorage.storage import BSOUpdate, ConflictError, ItemQuery
from syncstorage.storage.sql import SQLStorage

THREADS = 6
INCREMENTS = 5


@pytest.fixture
def layout_name() -> str:
    return "unsharded"  # locking happens on user_collections, which is never sharded


def test_concurrent_writers_lose_no_update(storage):
    """Read-modify-write of one record from many threads: every increment
    survives, and commit order equals timestamp order."""
    write(storage, 1, "bookmarks", lambda s: s.set_items([BSOUpdate("counter", payload="0")]))
    stamps: list[tuple[int, int]] = []  # (value written, T)
    unexpected: list[BaseException] = []
    conflicts = 0
    lock = threading.Lock()

    def increment(session):
        value = int(session.get_item("counter").payload) + 1
        now = session.set_items([BSOUpdate("counter", payload=str(value))])
        return value, now

    def worker():
        nonlocal conflicts
        done = 0
        while done < INCREMENTS:
            try:
                with storage.session(1, "bookmarks", write=True) as session:
                    result = increment(session)
            except ConflictError:
                with lock:
                    conflicts += 1
                time.sleep(0.005)
                continue
            except BaseException as exc:  # noqa: BLE001 - reported below
                unexpected.append(exc)
                return
            with lock:
                stamps.append(result)
            done += 1

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not unexpected, unexpected
    final = read(storage, 1, "bookmarks", lambda s: s.get_item("counter"))
    assert int(final.payload) == THREADS * INCREMENTS
    stamps.sort()
    values = [value for value, _ in stamps]
    times = [now for _, now in stamps]
    assert values == list(range(1, THREADS * INCREMENTS + 1))
    assert times == sorted(set(times)), "timestamps must strictly increase in commit order"
    assert read(storage, 1, "bookmarks", lambda s: s.collection_timestamp()) == times[-1]


def test_blocked_writer_gets_conflict(storage_url, layout):
    """A lock wait that times out is a conflict, not a driver error (§5.4)."""
    holder = SQLStorage(storage_url, **layout)
    waiter = SQLStorage(storage_url, lock_timeout=0.3, **layout)
    try:
        write(holder, 1, "bookmarks", lambda s: s.set_items([BSOUpdate("a")]))
        locked, release = threading.Event(), threading.Event()

        def hold_in(session):
            session.set_items([BSOUpdate("b")])
            locked.set()
            release.wait(30)

        def hold():
            # retries the same-10-ms conflict with the write just above,
            # which would otherwise end this thread before it signals
            write(holder, 1, "bookmarks", hold_in)

        with ThreadPoolExecutor(1) as pool:
            held = pool.submit(hold)
            assert locked.wait(10)
            try:
                with pytest.raises(ConflictError) as raised:
                    with waiter.session(1, "bookmarks", write=True) as session:
                        session.set_items([BSOUpdate("c")])
                # the request log's reason says what kind of conflict it was
                if storage_url.startswith("sqlite"):
                    assert "lock" in str(raised.value)
                else:
                    assert str(raised.value).startswith("lock wait timeout: "), raised.value
            finally:
                release.set()
            held.result(timeout=30)
        assert read(holder, 1, "bookmarks", lambda s: s.get_item("c")) is None
        assert read(holder, 1, "bookmarks", lambda s: s.get_item("b")) is not None
    finally:
        holder.close()
        waiter.close()


def test_racing_first_writes_keep_timestamps_increasing(storage):
    """Two first writes to a collection the user does not have yet: the lock
    finds no row for either (storage-model §5.5), yet the second to commit
    must still end up strictly later, or conflict."""
    a_wrote, results, errors = threading.Event(), {}, []

    def first():
        with storage.session(1, "tabs", write=True) as session:
            results["a"] = session.set_items([BSOUpdate("a", payload="a")])
            a_wrote.set()
            time.sleep(0.3)  # let B run into our uncommitted row

    def second():
        a_wrote.wait(10)
        try:
            with storage.session(1, "tabs", write=True) as session:
                results["b"] = session.set_items([BSOUpdate("b", payload="b")])
        except ConflictError as exc:
            errors.append(exc)

    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(first), pool.submit(second)]
        for future in futures:
            future.result(timeout=60)
    stored = read(storage, 1, "tabs", lambda s: s.collection_timestamp())
    if errors:
        assert "b" not in results
        assert read(storage, 1, "tabs", lambda s: s.get_item("b")) is None
        assert stored == results["a"]
    else:
        assert results["b"] > results["a"]
        assert stored == results["b"]
        assert read(storage, 1, "tabs", lambda s: s.get_item("b")).modified == results["b"]


BATCHES = 8
BATCH_SIZE = 40


def test_readers_see_whole_batches_or_nothing(storage):
    done = threading.Event()
    violations: list[str] = []

    def commit_batches():
        try:
            for k in range(BATCHES):
                batch = write(storage, 1, "history", lambda s: s.create_batch())
                items = [BSOUpdate(f"b{k}-{i:02}", payload=f"batch{k}") for i in range(BATCH_SIZE)]
                half = BATCH_SIZE // 2
                write(storage, 1, "history", lambda s: s.append_to_batch(batch, items[:half]))

                def finish(session, batch=batch, rest=items[half:]):
                    session.append_to_batch(batch, rest)  # the commit request's own items
                    return session.commit_batch(batch)

                write(storage, 1, "history", finish)
        finally:
            done.set()

    def check(counts: dict[str, int], where: str) -> None:
        for tag, n in counts.items():
            if n != BATCH_SIZE:
                violations.append(f"{where}: {tag} has {n} of {BATCH_SIZE} items")

    def observe():
        while not done.is_set():
            page = read(storage, 1, "history", lambda s: s.find_items(ItemQuery(full=True)))
            counts: dict[str, int] = {}
            for bso in page.items:
                counts[bso.payload] = counts.get(bso.payload, 0) + 1
            check(counts, "listing")
            total = read(storage, 1, None, lambda s: s.collection_counts()).get("history", 0)
            if total % BATCH_SIZE:
                violations.append(f"counts: {total} is not whole batches")

    with ThreadPoolExecutor(3) as pool:
        futures = [pool.submit(commit_batches), pool.submit(observe), pool.submit(observe)]
        for future in futures:
            future.result(timeout=120)
    assert violations == []
    assert read(storage, 1, None, lambda s: s.collection_counts()) == {"history": BATCHES * BATCH_SIZE}


def test_failed_commit_leaves_nothing_behind(storage):
    batch = write(storage, 1, "history", lambda s: s.create_batch())
    write(storage, 1, "history", lambda s: s.append_to_batch(batch, [BSOUpdate("a", payload="p")]))

    class Crash(Exception):
        pass

    with pytest.raises(Crash):
        with storage.session(1, "history", write=True) as session:
            session.commit_batch(batch)
            raise Crash
    assert read(storage, 1, "history", lambda s: s.get_item("a")) is None
    assert read(storage, 1, None, lambda s: s.collection_timestamps()) == {}
    assert write(storage, 1, "history", lambda s: s.batch_exists(batch))
