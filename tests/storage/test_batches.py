"""Batch uploads (storage-api §9.4, storage-model §7)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from support.storage import read, write
from syncstorage.storage import BSO, BSOUpdate, ItemQuery


def create(storage, userid=1, collection="bookmarks") -> int:
    return write(storage, userid, collection, lambda s: s.create_batch())


def append(storage, batch, items, userid=1, collection="bookmarks") -> None:
    write(storage, userid, collection, lambda s: s.append_to_batch(batch, items))


def commit(storage, batch, userid=1, collection="bookmarks") -> int:
    def run(session):
        assert session.batch_exists(batch)
        return session.commit_batch(batch)

    return write(storage, userid, collection, run)


def staged_and_committed(storage, items, userid=1, collection="bookmarks") -> int:
    batch = create(storage, userid, collection)
    append(storage, batch, items, userid, collection)
    return commit(storage, batch, userid, collection)


def committed_at_once(storage, items, userid=1, collection="bookmarks") -> int:
    """?batch=true&commit=true: the commit's merge without staging."""
    return write(storage, userid, collection, lambda s: s.commit_items(items))


# the two ways a batch's items reach bso must leave the same rows (§7.3)
both_commits = pytest.mark.parametrize("apply", [staged_and_committed, committed_at_once])


def exists(storage, batch, userid=1, collection="bookmarks") -> bool:
    return write(storage, userid, collection, lambda s: s.batch_exists(batch))


def get(storage, id, collection="bookmarks"):
    return read(storage, 1, collection, lambda s: s.get_item(id))


def test_batch_ids(storage):
    first = create(storage, userid=7)
    assert first % 10 == 7  # ms timestamp + userid % 10 (§7.1)
    second = create(storage, userid=7, collection="tabs")
    assert second != first


def test_batch_id_collision_retries(storage):
    """Two batches of one user in the same 10 ms get +1 ids (§7.1)."""
    def two(session):
        return session.create_batch(), session.create_batch()

    first, second = write(storage, 3, "bookmarks", two)
    assert second == first + 1


def test_staging_is_invisible_and_does_not_create_collection(storage):
    batch = create(storage)
    append(storage, batch, [BSOUpdate("a", payload="p")])
    assert get(storage, "a") is None
    assert read(storage, 1, None, lambda s: s.collection_timestamps()) == {}


def test_commit_applies_everything_with_one_timestamp(storage):
    before = write(storage, 1, "bookmarks", lambda s: s.set_items([BSOUpdate("old", payload="o")]))
    batch = create(storage)
    append(storage, batch, [BSOUpdate(f"i{n}", payload=str(n)) for n in range(150)])
    append(storage, batch, [BSOUpdate("last", payload="l", sortindex=3)])
    now = commit(storage, batch)
    assert now > before
    page = read(storage, 1, "bookmarks", lambda s: s.find_items(ItemQuery(newer=before)))
    assert len(page.items) == 151 and {b.modified for b in page.items} == {now}
    assert read(storage, 1, "bookmarks", lambda s: s.collection_timestamp()) == now
    assert get(storage, "last") == BSO("last", now, "l", 3)
    assert exists(storage, batch) is False  # a committed id is gone


def test_restaging_merges_fields(storage):
    batch = create(storage)
    append(storage, batch, [BSOUpdate("a", payload="first", sortindex=1)])
    append(storage, batch, [BSOUpdate("a", sortindex=2)])
    append(storage, batch, [BSOUpdate("a", payload="second")])
    now = commit(storage, batch)
    assert get(storage, "a") == BSO("a", now, "second", 2)


@both_commits
def test_commit_merges_with_stored_rows(storage, apply):
    write(storage, 1, "bookmarks", lambda s: s.set_items([BSOUpdate("a", payload="stored", sortindex=9)]))
    write(storage, 1, "bookmarks", lambda s: s.set_items([BSOUpdate("b", payload="b", ttl=0)]))
    now = apply(storage, [BSOUpdate("a", sortindex=1), BSOUpdate("b", ttl=3600), BSOUpdate("c")])
    # unsent fields keep their stored values, modified = T for every item
    assert get(storage, "a") == BSO("a", now, "stored", 1)
    # an expired-but-unpurged row is merged like a live one
    assert get(storage, "b") == BSO("b", now, "b", None)
    assert get(storage, "c") == BSO("c", now, "", None)


@both_commits
def test_commit_keeps_every_unsent_stored_field(storage, apply):
    """storage-model §7.3 field by field, against the raw row: a supplied
    empty payload replaces the stored one, an unsent one keeps it with its
    size; an unsent ttl keeps the stored expiry."""
    stored = [BSOUpdate(i, payload="stored", sortindex=9, ttl=1000) for i in "abcd"]
    before = write(storage, 1, "bookmarks", lambda s: s.set_items(stored))
    now = apply(
        storage,
        [BSOUpdate("a", payload=""), BSOUpdate("b"), BSOUpdate("c", ttl=50), BSOUpdate("d", sortindex=0)],
    )
    bso = storage.tables.bso_for(1)
    columns = (bso.c.id, bso.c.payload, bso.c.payload_size, bso.c.sortindex, bso.c.ttl, bso.c.modified)
    with storage.engine.connect() as conn:
        rows = {row[0]: tuple(row[1:]) for row in conn.execute(sa.select(*columns))}
    kept_ttl = before // 1000 + 1000
    assert rows == {
        "a": ("", 0, 9, kept_ttl, now),
        "b": ("stored", 6, 9, kept_ttl, now),
        "c": ("stored", 6, 9, now // 1000 + 50, now),
        "d": ("stored", 6, 0, kept_ttl, now),
    }


@both_commits
def test_ttl_counts_from_commit(storage, apply):
    now = apply(storage, [BSOUpdate("a", payload="p", ttl=100), BSOUpdate("b", payload="q")])
    bso = storage.tables.bso_for(1)
    with storage.engine.connect() as conn:
        ttls = dict(conn.execute(sa.select(bso.c.id, bso.c.ttl)).all())
    assert ttls == {"a": now // 1000 + 100, "b": 2_100_000_000}


def test_batch_is_bound_to_user_and_collection(storage):
    batch = create(storage, userid=1, collection="bookmarks")
    assert exists(storage, batch, userid=1, collection="bookmarks")
    assert not exists(storage, batch, userid=1, collection="history")
    assert not exists(storage, batch, userid=2, collection="bookmarks")
    # those rejections changed nothing
    assert exists(storage, batch, userid=1, collection="bookmarks")


def test_same_batch_id_for_two_users_stays_separate(storage):
    batch = create(storage, userid=1)
    bu = storage.tables.batch_uploads
    with storage.engine.begin() as conn:
        conn.execute(sa.insert(bu).values(batch=batch, userid=11, collection=7))
    append(storage, batch, [BSOUpdate("mine", payload="1")], userid=1)
    append(storage, batch, [BSOUpdate("theirs", payload="11")], userid=11)
    commit(storage, batch, userid=1)
    assert read(storage, 1, "bookmarks", lambda s: [b.id for b in s.find_items(ItemQuery()).items]) == ["mine"]
    assert exists(storage, batch, userid=11)


def test_expired_batch(storage):
    now = write(storage, 1, "bookmarks", lambda s: s.now)
    old = now - 7200 * 1000 - 10
    young = now - 7100 * 1000
    bu = storage.tables.batch_uploads
    with storage.engine.begin() as conn:
        conn.execute(sa.insert(bu), [
            {"batch": old, "userid": 1, "collection": 7},
            {"batch": young, "userid": 1, "collection": 7},
        ])
    assert not exists(storage, old)
    assert exists(storage, young)


def test_unknown_and_absurd_batch_ids(storage):
    assert not exists(storage, 12345)
    assert not exists(storage, 2**70)
    assert not exists(storage, -5)


@both_commits
def test_empty_commit_still_touches_collection(storage, apply):
    now = apply(storage, [])
    assert read(storage, 1, None, lambda s: s.collection_timestamps()) == {"bookmarks": now}


def test_delete_storage_removes_batches_in_every_shard(storage):
    def two(session):
        return session.create_batch(), session.create_batch()

    batches = write(storage, 1, "bookmarks", two)  # ids n and n+1: two shards when sharded
    for batch in batches:
        append(storage, batch, [BSOUpdate("staged", payload="x")])
    write(storage, 1, None, lambda s: s.delete_storage())
    assert not any(exists(storage, batch) for batch in batches)
    with storage.engine.connect() as conn:
        for table in storage.tables.item_tables:
            assert conn.execute(sa.select(sa.func.count()).select_from(table)).scalar() == 0
