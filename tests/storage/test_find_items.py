"""Collection listings: filters, orders and offset tokens (storage-api §9.1, §12)."""

from __future__ import annotations

import pytest

from support.storage import read, write
from syncstorage.storage import BSOUpdate, InvalidOffsetError, ItemQuery, Sort


def put(storage, items, collection="bookmarks") -> int:
    return write(storage, 1, collection, lambda s: s.set_items(items))


def find(storage, collection="bookmarks", **query):
    return read(storage, 1, collection, lambda s: s.find_items(ItemQuery(**query)))


def ids(page) -> list[str]:
    return [b.id for b in page.items]


@pytest.fixture
def crowded(storage):
    """30 items on three timestamps, many sharing each one, with sortindexes
    that tie too (and some nulls)."""
    stamps = []
    for group in range(3):
        items = [
            BSOUpdate(
                f"g{group}-{n:02}",
                payload=f"{group}/{n}",
                sortindex=None if n % 4 == 0 else n % 3,
            )
            for n in range(10)
        ]
        stamps.append(put(storage, items))
    return storage, stamps


def expected_order(storage, sort: Sort) -> list[str]:
    everything = find(storage, full=True).items
    if sort is Sort.OLDEST:
        key = lambda b: (b.modified, b.id)  # noqa: E731
        return [b.id for b in sorted(everything, key=key)]
    if sort is Sort.INDEX:
        with_index = sorted(
            (b for b in everything if b.sortindex is not None),
            key=lambda b: (b.sortindex, b.id),
            reverse=True,
        )
        without = sorted((b for b in everything if b.sortindex is None), key=lambda b: b.id, reverse=True)
        return [b.id for b in with_index + without]
    return [b.id for b in sorted(everything, key=lambda b: (b.modified, b.id), reverse=True)]


def walk(storage, limit, **query) -> list[str]:
    seen, offset = [], None
    for _ in range(100):
        page = find(storage, limit=limit, offset=offset, **query)
        assert len(page.items) <= limit
        seen += ids(page)
        offset = page.next_offset
        if offset is None:
            return seen
    raise AssertionError("pagination did not end")


def test_pages_cover_everything_once(crowded):
    storage, _ = crowded
    for sort in Sort:
        expected = expected_order(storage, sort)
        for limit in (1, 4, 7, 10, 29, 30, 31):
            assert walk(storage, limit, sort=sort) == expected, (sort, limit)


def test_pages_with_time_filters(crowded):
    storage, stamps = crowded
    for sort in Sort:
        middle = [i for i in expected_order(storage, sort) if i.startswith("g1-")]
        assert walk(storage, 3, sort=sort, newer=stamps[0], older=stamps[2]) == middle


def test_full_and_id_only_listings(crowded):
    storage, stamps = crowded
    full = find(storage, ids=["g0-01", "g2-05", "missing"], full=True, sort=Sort.OLDEST)
    assert [(b.id, b.payload, b.modified) for b in full.items] == [
        ("g0-01", "0/1", stamps[0]),
        ("g2-05", "2/5", stamps[2]),
    ]
    bare = find(storage, ids=["g0-01"])
    assert bare.items[0].id == "g0-01" and bare.items[0].modified == stamps[0]


def test_newer_and_older_are_strict(crowded):
    storage, stamps = crowded
    assert len(find(storage, newer=stamps[1]).items) == 10
    assert len(find(storage, older=stamps[1]).items) == 10
    assert find(storage, newer=stamps[2]).items == []


def test_limit_zero_and_missing_collection(crowded):
    storage, _ = crowded
    assert find(storage, limit=0) == find(storage, collection="nothing")
    assert find(storage, limit=0).items == [] and find(storage, limit=0).next_offset is None


def test_token_shapes(crowded):
    storage, stamps = crowded
    page = find(storage, limit=3)
    assert page.next_offset == f"{stamps[2]}:3"
    page = find(storage, limit=3, offset=page.next_offset)
    assert page.next_offset == f"{stamps[2]}:6"
    assert find(storage, limit=3, sort=Sort.INDEX).next_offset == "3"
    assert find(storage, limit=3, sort=Sort.INDEX, offset="3").next_offset == "6"


def test_spec_example(storage):
    """storage-api §12: two BSOs on one timestamp, limit 1."""
    now = put(storage, [BSOUpdate("aaaaaaaaaaaa"), BSOUpdate("bbbbbbbbbbbb")])
    first = find(storage, sort=Sort.NEWEST, limit=1)
    assert ids(first) == ["bbbbbbbbbbbb"] and first.next_offset == f"{now}:1"
    second = find(storage, sort=Sort.NEWEST, limit=1, offset=first.next_offset)
    assert ids(second) == ["aaaaaaaaaaaa"] and second.next_offset is None


MALFORMED = [
    (Sort.NEWEST, "12"),
    (Sort.NEWEST, "a:1"),
    (Sort.NEWEST, "1:"),
    (Sort.NEWEST, "-1:0"),
    (Sort.OLDEST, "1:2:3"),
    (Sort.OLDEST, " 1:2"),
    (Sort.INDEX, "1:2"),
    (Sort.INDEX, "-3"),
    (Sort.INDEX, ""),
    (Sort.INDEX, "1234567890123456789012"),
]


def test_malformed_tokens(crowded):
    storage, _ = crowded
    for sort, token in MALFORMED:
        with pytest.raises(InvalidOffsetError):
            find(storage, sort=sort, limit=2, offset=token)


def test_token_bound_outside_newer_older(crowded):
    storage, stamps = crowded
    with pytest.raises(InvalidOffsetError):
        find(storage, limit=2, newer=stamps[1], offset=f"{stamps[0]}:1")
    with pytest.raises(InvalidOffsetError):
        find(storage, limit=2, older=stamps[1], offset=f"{stamps[2]}:1")
    # inside the window is fine
    find(storage, limit=2, newer=stamps[0], older=stamps[2], offset=f"{stamps[1]}:1")


def test_index_sort_puts_null_last(storage):
    put(storage, [BSOUpdate("n"), BSOUpdate("low", sortindex=-5), BSOUpdate("high", sortindex=5)])
    assert ids(find(storage, sort=Sort.INDEX)) == ["high", "low", "n"]
