"""Collection ids and their cache (storage-model §3.7, §4.1, §4.2)."""

from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa

from support.storage import read, write
from syncstorage.storage import BSOUpdate
from syncstorage.storage.sql import SQLStorage, migrate
from syncstorage.storage.sql.collections import MAX_COLLECTIONS_CACHE_SIZE
from syncstorage.storage.sql.schema import STANDARD_COLLECTIONS


@pytest.fixture
def layout_name() -> str:
    return "unsharded"  # collections are never sharded


def stored_ids(storage) -> dict[str, int]:
    c = storage.tables.collections
    with storage.engine.connect() as conn:
        return dict(conn.execute(sa.select(c.c.name, c.c.collectionid)).all())


def test_standard_collections_are_seeded(storage):
    ids = stored_ids(storage)
    assert {name: ids[name] for name in STANDARD_COLLECTIONS} == STANDARD_COLLECTIONS
    assert ids["bookmarks"] == 7 and ids["creditcards"] == 13


def test_custom_ids_start_at_100(database_url):
    migrate.upgrade(database_url)
    storage = SQLStorage(database_url)
    write(storage, 1, "custom-one", lambda s: s.set_items([BSOUpdate("a")]))
    write(storage, 1, "custom.two", lambda s: s.set_items([BSOUpdate("a")]))
    ids = stored_ids(storage)
    assert (ids["custom-one"], ids["custom.two"]) == (100, 101)
    # the info endpoints map ids back to names
    assert set(read(storage, 1, None, lambda s: s.collection_counts())) == {"custom-one", "custom.two"}
    storage.close()


def test_names_are_case_sensitive(storage):
    write(storage, 1, "Custom", lambda s: s.set_items([BSOUpdate("a", payload="upper")]))
    write(storage, 1, "custom", lambda s: s.set_items([BSOUpdate("a", payload="lower")]))
    assert read(storage, 1, "Custom", lambda s: s.get_item("a").payload) == "upper"
    assert read(storage, 1, "custom", lambda s: s.get_item("a").payload) == "lower"


def test_reads_never_create_ids(storage):
    assert read(storage, 1, "never-written", lambda s: s.get_item("a")) is None
    assert "never-written" not in stored_ids(storage)


def test_ids_of_rolled_back_transactions_are_not_cached(storage):
    class Abort(Exception):
        pass

    try:
        with storage.session(1, "doomed", write=True) as session:
            session.set_items([BSOUpdate("a")])
            raise Abort
    except Abort:
        pass
    assert storage.collection_ids.id("doomed") is None
    assert "doomed" not in stored_ids(storage)
    write(storage, 1, "doomed", lambda s: s.set_items([BSOUpdate("a")]))
    assert storage.collection_ids.id("doomed") == stored_ids(storage)["doomed"]


def test_ids_created_by_another_process_are_found(storage, storage_url, layout):
    other = SQLStorage(storage_url, **layout)
    try:
        write(other, 1, "elsewhere", lambda s: s.set_items([BSOUpdate("a", payload="x")]))
    finally:
        other.close()
    assert read(storage, 1, "elsewhere", lambda s: s.get_item("a").payload) == "x"
    assert read(storage, 1, None, lambda s: s.collection_timestamps()).keys() == {"elsewhere"}


def test_cache_stops_growing_at_its_cap(database_url, caplog):
    migrate.upgrade(database_url)
    assert MAX_COLLECTIONS_CACHE_SIZE == 1000
    cap = len(STANDARD_COLLECTIONS) + 3
    storage = SQLStorage(database_url, collection_cache_size=cap)
    try:
        with caplog.at_level(logging.WARNING):
            for n in range(6):
                write(storage, 1, f"c{n}", lambda s, n=n: s.set_items([BSOUpdate("a", payload=str(n))]))
        assert len(storage.collection_ids) == cap
        assert [storage.collection_ids.id(f"c{n}") for n in range(6)] == [100, 101, 102, None, None, None]
        assert sum("cache is full" in r.message for r in caplog.records) == 1
        # names beyond the cap still work, through the database
        assert read(storage, 1, "c5", lambda s: s.get_item("a").payload) == "5"
        assert len(read(storage, 1, None, lambda s: s.collection_counts())) == 6
    finally:
        storage.close()


def test_user_timestamps_read_what_a_session_reads(storage, storage_url, layout):
    """`GET info/collections` reads both timestamps with one statement,
    outside a session: the same values, the tombstone's included in the
    storage timestamp only."""
    write(storage, 1, "notes", lambda s: s.set_items([BSOUpdate("a", payload="x")]))
    write(storage, 1, "history", lambda s: s.set_items([BSOUpdate("b", payload="y")]))
    write(storage, 1, "history", lambda s: s.delete_collection())  # a tombstone, newest
    write(storage, 1, "tabs", lambda s: s.set_items([BSOUpdate("c", payload="z")]))
    write(storage, 1, "tabs", lambda s: s.delete_collection())
    expected = read(storage, 1, None, lambda s: (s.storage_timestamp(), s.collection_timestamps()))
    assert set(expected[1]) == {"notes"} and expected[0] > expected[1]["notes"]
    assert storage.user_timestamps(1) == expected
    assert storage.user_timestamps(2) == (0, {})
    # a process that has not cached the names yet reads them in a session
    other = SQLStorage(storage_url, **layout)
    try:
        assert other.user_timestamps(1) == expected
    finally:
        other.close()
