"""The hot statements are built once and reused (docs/performance.md, change 3)."""

from __future__ import annotations

import sqlalchemy as sa

from support.storage import executed_statements, read, write
from syncstorage.storage import BSOUpdate, ItemQuery, Sort


def _compiled_statements(storage, run) -> list[str]:
    """The SQL text of every statement `run` executes."""
    with executed_statements(storage) as seen:
        run()
    return [sql for sql, _ in seen]


def test_requests_reuse_the_same_statement_objects(storage):
    items = [BSOUpdate(f"{n:02}", payload=f"p{n}", sortindex=n) for n in range(10)]
    write(storage, 2, "history", lambda s: s.set_items(items))
    statements = storage.statements
    lock = statements.lock[False]

    def one_sync():
        with storage.session(2, "history") as s:
            page = s.find_items(ItemQuery(full=True, limit=3, sort=Sort.INDEX))
            assert [b.id for b in page.items] == ["09", "08", "07"]
            assert s.get_item("05").payload == "p5"
            assert s.item_timestamp("nope") is None
        with storage.session(2) as s:
            assert set(s.collection_timestamps()) == {"history"}

    first = _compiled_statements(storage, one_sync)
    shapes = dict(statements._listings)
    second = _compiled_statements(storage, one_sync)
    # the same SQL, from the same objects: nothing was built for the 2nd sync
    assert first == second
    assert statements.lock[False] is lock
    assert statements._listings == shapes and len(shapes) == 1


def test_one_listing_statement_serves_every_user_and_value(storage):
    """Parameters, not constants: different users, collections and bounds
    run the same SQL text and still get their own rows."""
    for uid, collection in ((1, "bookmarks"), (3, "history")):
        items = [BSOUpdate(f"{uid}-{n}", payload="x") for n in range(3)]
        write(storage, uid, collection, lambda s, items=items: s.set_items(items))

    def listing(uid, collection, newer):
        return read(
            storage, uid, collection, lambda s: s.find_items(ItemQuery(newer=newer, limit=10))
        )

    texts = []
    for uid, collection in ((1, "bookmarks"), (3, "history")):
        sql = _compiled_statements(storage, lambda: texts.append(listing(uid, collection, 1)))
        assert {b.id for b in texts[-1].items} == {f"{uid}-{n}" for n in range(3)}
        texts.append(sql[-1])
    if storage.tables.shard:
        return  # users 1 and 3 live in different bso tables
    assert texts[1] == texts[3]
    assert listing(1, "bookmarks", 2**52).items == []


def test_writes_reuse_their_upsert_statements(storage, monkeypatch):
    """A POST's upsert is built once per set of supplied fields, then reused:
    building one cost more than a small POST's SQL (docs/performance.md)."""
    built = []
    original = storage.dialect.upsert

    def counting_upsert(*args, **kwargs):
        built.append(args[1])
        return original(*args, **kwargs)

    monkeypatch.setattr(storage.dialect, "upsert", counting_upsert)

    def post(n):
        items = [BSOUpdate(f"{n}-{i}", payload="x", sortindex=i) for i in range(3)]
        items.append(BSOUpdate(f"{n}-ttl", ttl=60))  # a second shape: ttl only
        write(storage, 4, "history", lambda s: s.set_items(items))

    post(1)
    first = len(built)
    assert first == 2  # one upsert per shape
    post(2)
    post(3)
    assert len(built) == first  # nothing built for later POSTs
    stored = read(storage, 4, "history", lambda s: s.find_items(ItemQuery(full=True)))
    assert len(stored.items) == 12  # the ttl-only rows were created too (with "" payload)
