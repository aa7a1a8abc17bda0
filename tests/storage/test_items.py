"""Writes, reads and deletes of BSOs (storage-api §3.3, §9.5, §10, §11)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from support.storage import read, write
from syncstorage import timestamps
from syncstorage.storage import BSO, BSOUpdate, ConflictError, ItemQuery


def put(storage, items, userid=1, collection="bookmarks") -> int:
    return write(storage, userid, collection, lambda s: s.set_items(items))


def get(storage, id, userid=1, collection="bookmarks") -> BSO | None:
    return read(storage, userid, collection, lambda s: s.get_item(id))


def test_new_item_gets_defaults_and_now(storage):
    now = put(storage, [BSOUpdate("a"), BSOUpdate("b", payload="x", sortindex=-5)])
    assert now % 10 == 0
    assert get(storage, "a") == BSO("a", now, "", None)
    assert get(storage, "b") == BSO("b", now, "x", -5)
    assert read(storage, 1, "bookmarks", lambda s: s.collection_timestamp()) == now
    assert read(storage, 1, "bookmarks", lambda s: s.item_timestamp("b")) == now


def test_partial_update_keeps_unsent_fields(storage):
    first = put(storage, [BSOUpdate("a", payload="p1", sortindex=1)])
    second = put(storage, [BSOUpdate("a", sortindex=2)])
    assert get(storage, "a") == BSO("a", second, "p1", 2)  # sortindex bumps modified
    third = put(storage, [BSOUpdate("a", payload="p2")])
    assert get(storage, "a") == BSO("a", third, "p2", 2)
    assert first < second < third


def test_ttl_only_update_keeps_modified_but_touches_collection(storage):
    first = put(storage, [BSOUpdate("a", payload="p")])
    second = put(storage, [BSOUpdate("a", ttl=1000)])
    assert get(storage, "a") == BSO("a", first, "p", None)
    assert read(storage, 1, "bookmarks", lambda s: s.collection_timestamp()) == second > first


def test_mixed_shapes_in_one_request(storage):
    put(storage, [BSOUpdate("a", payload="pa", sortindex=1), BSOUpdate("b", payload="pb", sortindex=2)])
    now = put(
        storage,
        [BSOUpdate("a", sortindex=10), BSOUpdate("b", payload="new"), BSOUpdate("c", ttl=60)],
    )
    assert get(storage, "a") == BSO("a", now, "pa", 10)
    assert get(storage, "b") == BSO("b", now, "new", 2)
    assert get(storage, "c") == BSO("c", now, "", None)


def test_many_items_in_one_call(storage):
    items = [BSOUpdate(f"id{n:03}", payload=str(n)) for n in range(250)]
    put(storage, items)
    page = read(storage, 1, "bookmarks", lambda s: s.find_items(ItemQuery(full=True)))
    assert sorted(b.payload for b in page.items) == sorted(str(n) for n in range(250))


def test_ids_are_case_sensitive(storage):
    put(storage, [BSOUpdate("abc", payload="lower"), BSOUpdate("ABC", payload="upper")])
    assert get(storage, "abc").payload == "lower"
    assert get(storage, "ABC").payload == "upper"


def test_payload_sizes_are_utf8_bytes(storage):
    payload = "ä€𝄞" * 1000  # 2 + 3 + 4 bytes per round
    put(storage, [BSOUpdate("a", payload=payload)])
    put(storage, [BSOUpdate("b", payload="abc")], collection="history")
    assert get(storage, "a").payload == payload  # round-trips on every database
    sizes = read(storage, 1, None, lambda s: s.collection_sizes())
    assert sizes == {"bookmarks": 9000, "history": 3}
    assert read(storage, 1, None, lambda s: s.total_size()) == 9003


def test_big_payload_round_trips(storage):
    payload = "x" * 2_621_440  # max_record_payload_bytes
    put(storage, [BSOUpdate("big", payload=payload)])
    assert get(storage, "big").payload == payload


def test_ttl_is_absolute_seconds_from_the_write(storage):
    now = put(storage, [BSOUpdate("a", payload="p", ttl=999_999_999), BSOUpdate("b")])
    bso = storage.tables.bso_for(1)
    with storage.engine.connect() as conn:
        ttls = dict(conn.execute(sa.select(bso.c.id, bso.c.ttl)).all())
    # never rounded up: a record must not outlive T + ttl (storage-model §4.4)
    assert ttls == {"a": now // 1000 + 999_999_999, "b": 2_100_000_000}


def test_expired_items_are_invisible_everywhere(storage):
    put(storage, [BSOUpdate("live", payload="abcd"), BSOUpdate("dead", payload="xyz", ttl=0)])
    assert get(storage, "dead") is None
    assert read(storage, 1, "bookmarks", lambda s: s.item_timestamp("dead")) is None
    page = read(storage, 1, "bookmarks", lambda s: s.find_items(ItemQuery()))
    assert [b.id for b in page.items] == ["live"]
    assert read(storage, 1, None, lambda s: s.collection_counts()) == {"bookmarks": 1}
    assert read(storage, 1, None, lambda s: s.collection_sizes()) == {"bookmarks": 4}
    assert read(storage, 1, None, lambda s: s.total_size()) == 4
    assert write(storage, 1, "bookmarks", lambda s: s.delete_item("dead")) is False


def test_collection_with_only_expired_items_still_listed(storage):
    now = put(storage, [BSOUpdate("dead", payload="x", ttl=0)])
    assert read(storage, 1, None, lambda s: s.collection_timestamps()) == {"bookmarks": now}
    assert read(storage, 1, None, lambda s: s.collection_counts()) == {}
    assert read(storage, 1, None, lambda s: s.collection_sizes()) == {}


def test_expired_unpurged_row_is_updated_in_place(storage):
    """storage-api §3.3: a ttl refresh revives the stored payload and modified."""
    first = put(storage, [BSOUpdate("a", payload="keep me", sortindex=7, ttl=0)])
    assert get(storage, "a") is None
    put(storage, [BSOUpdate("a", ttl=3600)])
    assert get(storage, "a") == BSO("a", first, "keep me", 7)
    # a write without ttl to an expired row leaves it expired
    put(storage, [BSOUpdate("b", payload="old", ttl=0)])
    put(storage, [BSOUpdate("b", sortindex=3)])
    assert get(storage, "b") is None


def test_delete_item(storage):
    put(storage, [BSOUpdate("a", payload="p"), BSOUpdate("b")])
    assert write(storage, 1, "bookmarks", lambda s: (s.delete_item("a"), s.now)) is not None
    assert get(storage, "a") is None and get(storage, "b") is not None
    assert write(storage, 1, "bookmarks", lambda s: s.delete_item("a")) is False


def test_delete_item_touches_collection(storage):
    put(storage, [BSOUpdate("a")])
    deleted, now = write(storage, 1, "bookmarks", lambda s: (s.delete_item("a"), s.now))
    assert deleted
    assert read(storage, 1, "bookmarks", lambda s: s.collection_timestamp()) == now


def test_delete_items(storage):
    put(storage, [BSOUpdate("a"), BSOUpdate("b"), BSOUpdate("c")])
    now = write(storage, 1, "bookmarks", lambda s: s.delete_items(["a", "c", "zz"]))
    page = read(storage, 1, "bookmarks", lambda s: s.find_items(ItemQuery()))
    assert [b.id for b in page.items] == ["b"]
    assert read(storage, 1, "bookmarks", lambda s: s.collection_timestamp()) == now
    # nothing matched: the collection still moves to T
    later = write(storage, 1, "bookmarks", lambda s: s.delete_items(["nope"]))
    assert read(storage, 1, "bookmarks", lambda s: s.collection_timestamp()) == later > now


def test_delete_items_on_missing_collection_creates_nothing(storage):
    write(storage, 1, "tabs", lambda s: s.delete_items(["a"]))
    assert read(storage, 1, None, lambda s: s.collection_timestamps()) == {}
    assert read(storage, 1, None, lambda s: s.storage_timestamp()) == 0


def test_delete_collection_writes_tombstone(storage):
    put(storage, [BSOUpdate("a")], collection="tabs")
    later = put(storage, [BSOUpdate("b")], collection="history")
    result = write(storage, 1, "history", lambda s: (s.delete_collection(), s.now))
    deleted_at, now = result
    assert deleted_at == now > later
    assert read(storage, 1, None, lambda s: s.collection_timestamps()) == {
        "tabs": read(storage, 1, "tabs", lambda s: s.collection_timestamp())
    }
    # storage-api §4.4: the storage timestamp is the delete's T, not lower
    assert read(storage, 1, None, lambda s: s.storage_timestamp()) == now
    assert read(storage, 1, "history", lambda s: s.collection_timestamp()) is None
    assert read(storage, 1, "history", lambda s: s.find_items(ItemQuery()).items) == []


def test_delete_missing_collection_returns_none(storage):
    assert write(storage, 1, "history", lambda s: s.delete_collection()) is None
    assert read(storage, 1, None, lambda s: s.storage_timestamp()) == 0


def test_delete_storage(storage):
    put(storage, [BSOUpdate("a")], collection="tabs")
    put(storage, [BSOUpdate("b")], collection="custom")
    batch = write(storage, 1, "history", lambda s: s.create_batch())
    write(storage, 1, "history", lambda s: s.append_to_batch(batch, [BSOUpdate("h", payload="x")]))
    put(storage, [BSOUpdate("other")], userid=2)
    now = write(storage, 1, None, lambda s: s.delete_storage())
    assert read(storage, 1, None, lambda s: s.collection_timestamps()) == {}
    assert read(storage, 1, None, lambda s: s.collection_counts()) == {}
    assert read(storage, 1, None, lambda s: s.storage_timestamp()) == now
    # an old batch cannot resurrect data
    assert write(storage, 1, "history", lambda s: s.batch_exists(batch)) is False
    # other users are untouched
    assert get(storage, "other", userid=2) is not None


def test_storage_timestamp_never_goes_backwards(storage):
    put(storage, [BSOUpdate("a")], collection="tabs")
    stamps = [read(storage, 1, None, lambda s: s.storage_timestamp())]
    stamps.append(write(storage, 1, "tabs", lambda s: s.delete_collection()))
    stamps.append(put(storage, [BSOUpdate("a")], collection="forms"))
    stamps.append(write(storage, 1, None, lambda s: s.delete_storage()))
    stamps.append(read(storage, 1, None, lambda s: s.storage_timestamp()))
    assert stamps == sorted(stamps) and stamps[-1] == stamps[-2]


def test_timestamps_strictly_increase_per_collection(storage):
    stamps = [put(storage, [BSOUpdate("a", payload=str(n))]) for n in range(5)]
    assert stamps == sorted(set(stamps))


def test_conflict_rule(storage):
    now = put(storage, [BSOUpdate("a")])
    # a row stamped in the future (e.g. another server's clock) blocks writes
    uc = storage.tables.user_collections
    with storage.engine.begin() as conn:
        conn.execute(sa.update(uc).values(last_modified=now + 60_000))
    with pytest.raises(ConflictError):
        with storage.session(1, "bookmarks", write=True) as s:
            s.set_items([BSOUpdate("b")])
    assert get(storage, "b") is None
    # reads are not affected
    assert get(storage, "a") is not None


def test_a_write_in_the_collections_tick_waits_for_the_next_one(storage):
    """storage-model §5.3: another write just took this 10 ms tick (or the
    next); holding the lock, the write waits for a later tick instead of
    conflicting (issue 10: 72-85 % of concurrent POSTs were refused)."""
    put(storage, [BSOUpdate("a")])
    uc = storage.tables.user_collections
    for _ in range(5):
        taken = timestamps.now_ms() + 10
        with storage.engine.begin() as conn:
            conn.execute(sa.update(uc).values(last_modified=taken))
        with storage.session(1, "bookmarks", write=True) as s:  # no retry around it
            assert s.set_items([BSOUpdate("b")]) > taken


def test_users_are_isolated(storage):
    put(storage, [BSOUpdate("a", payload="one")], userid=1)
    put(storage, [BSOUpdate("a", payload="two")], userid=2)
    put(storage, [BSOUpdate("a", payload="three")], userid=3)
    assert [get(storage, "a", userid=u).payload for u in (1, 2, 3)] == ["one", "two", "three"]
    write(storage, 2, "bookmarks", lambda s: s.delete_collection())
    assert get(storage, "a", userid=1) is not None and get(storage, "a", userid=3) is not None


def test_info_reads_on_empty_user(storage):
    assert read(storage, 9, None, lambda s: s.storage_timestamp()) == 0
    assert read(storage, 9, None, lambda s: s.collection_timestamps()) == {}
    assert read(storage, 9, None, lambda s: s.total_size()) == 0
    assert read(storage, 9, "bookmarks", lambda s: s.collection_timestamp()) is None
    assert read(storage, 9, "bookmarks", lambda s: s.get_item("x")) is None


def test_delete_storage_conflicts_with_a_newer_tombstone(storage):
    now = write(storage, 1, "tabs", lambda s: s.set_items([]))
    uc = storage.tables.user_collections
    with storage.engine.begin() as conn:
        conn.execute(sa.insert(uc).values(userid=1, collection=0, last_modified=now + 60_000))
    with pytest.raises(ConflictError):
        with storage.session(1, None, write=True) as s:
            s.delete_storage()
