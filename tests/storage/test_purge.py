"""The purge job (storage-model §8)."""

from __future__ import annotations

import sqlalchemy as sa

from support.storage import read, write
from syncstorage.storage import BSOUpdate
from syncstorage.storage.sql import SQLStorage, migrate
from syncstorage.storage.sql.maintenance import KEPT_PURGE_RUNS
from syncstorage.timestamps import now_ms

DAY = 86400


def insert_old(storage, userid, *, expired_items=0, stale_batches=0) -> None:
    """Rows the API cannot make: expired a day and more ago, batches older
    than their lifetime plus the grace period."""
    now_s = now_ms() // 1000
    bso = storage.tables.bso_for(userid)
    with storage.engine.begin() as conn:
        for n in range(expired_items):
            conn.execute(
                sa.insert(bso).values(
                    userid=userid, collection=7, id=f"old{n}", modified=1,
                    payload="x", payload_size=1, ttl=now_s - DAY - 10 - n,
                )
            )
        for n in range(stale_batches):
            batch = (now_s - 7200 - DAY - 10 - n) * 1000 + userid % 10
            conn.execute(
                sa.insert(storage.tables.batch_uploads).values(batch=batch, userid=userid, collection=7)
            )
            conn.execute(
                sa.insert(storage.tables.items_for(batch)).values(batch=batch, userid=userid, id="i")
            )


def count(storage, tables) -> int:
    with storage.engine.connect() as conn:
        return sum(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar() for t in tables)


def test_purge_removes_expired_items_and_stale_batches(storage):
    for userid in (1, 2, 3):
        insert_old(storage, userid, expired_items=3, stale_batches=2)
    write(storage, 1, "bookmarks", lambda s: s.set_items([BSOUpdate("live", payload="p")]))
    # expired within the grace period: kept for now
    write(storage, 1, "bookmarks", lambda s: s.set_items([BSOUpdate("fresh-dead", ttl=0)]))
    young = write(storage, 1, "bookmarks", lambda s: s.create_batch())
    write(storage, 1, "bookmarks", lambda s: s.append_to_batch(young, [BSOUpdate("y")]))

    result = storage.purge()

    assert (result.expired_items, result.stale_batches, result.stale_batch_items) == (9, 6, 6)
    assert not result.incomplete
    assert count(storage, storage.tables.bso_tables) == 2  # live + fresh-dead
    assert read(storage, 1, "bookmarks", lambda s: s.get_item("live")).payload == "p"
    assert write(storage, 1, "bookmarks", lambda s: s.batch_exists(young))
    assert count(storage, storage.tables.item_tables) == 1
    assert storage.purge().expired_items == 0


def test_purge_grace_zero_removes_recently_expired(storage):
    bso = storage.tables.bso_for(1)
    with storage.engine.begin() as conn:
        conn.execute(
            sa.insert(bso).values(
                userid=1, collection=7, id="gone", modified=1, payload="", ttl=now_ms() // 1000 - 5
            )
        )
    assert storage.purge(grace=0).expired_items == 1


def test_purge_is_bounded_and_reports_incomplete(storage):
    insert_old(storage, 1, expired_items=7)
    first = storage.purge(max_per_loop=2, max_loops=2)
    assert first.expired_items == 4 and first.incomplete
    second = storage.purge(max_per_loop=2, max_loops=2)
    assert second.expired_items == 3 and not second.incomplete
    assert count(storage, storage.tables.bso_tables) == 0


def test_dry_run_counts_without_deleting(storage):
    insert_old(storage, 2, expired_items=3, stale_batches=1)
    result = storage.purge(dry_run=True)
    assert (result.expired_items, result.stale_batches, result.stale_batch_items) == (3, 1, 1)
    assert count(storage, storage.tables.bso_tables) == 3


def test_purges_are_recorded_newest_first_and_bounded(tmp_path):
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    migrate.upgrade(url)
    storage = SQLStorage(url)
    try:
        for n in range(KEPT_PURGE_RUNS + 5):
            storage.record_purge(storage.clock.now_ms(), (n, 1, 2), "command")
        runs = storage.purge_runs(limit=1000)
        assert len(runs) == KEPT_PURGE_RUNS
        assert [r.expired_items for r in runs[:2]] == [KEPT_PURGE_RUNS + 4, KEPT_PURGE_RUNS + 3]
        assert (runs[0].stale_batches, runs[0].stale_batch_items, runs[0].source) == (1, 2, "command")
    finally:
        storage.close()
