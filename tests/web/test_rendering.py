"""Listing bodies (storage-api §3.2, §5.3, §9.1): one orjson call per page
must give the bytes of the per-record form it replaced (issue 6)."""

from __future__ import annotations

import orjson
from hypothesis import given
from hypothesis import strategies as st

from syncstorage.storage import BSO
from syncstorage.timestamps import format_ms
from syncstorage.web import rendering

# few distinct values, so records of one page share `modified` as real ones do
modified = st.sampled_from([0, 10, 990, 1_700_000_000_120, 1_700_000_000_120 + 10, 99_999_999_999_990])
# any Unicode text, control characters, quotes, backslashes and U+2028 included
text = st.text(st.characters(blacklist_categories=["Cs"]), max_size=40)
bsos = st.lists(
    st.builds(
        BSO,
        id=text,
        modified=modified,
        payload=text,
        sortindex=st.none() | st.integers(-999_999_999, 999_999_999),
    ),
    max_size=30,
)


def per_record(item: BSO) -> bytes:
    """The rendering before issue 6: pieces spliced per record."""
    out = b'{"id":%s,"modified":%s,"payload":%s' % (
        orjson.dumps(item.id),
        format_ms(item.modified).encode(),
        orjson.dumps(item.payload),
    )
    if item.sortindex is not None:
        return out + b',"sortindex":%d}' % item.sortindex
    return out + b"}"


@given(bsos)
def test_full_json_listing_is_the_per_record_form(items):
    expected = b"[" + b",".join(per_record(item) for item in items) + b"]"
    assert rendering.listing(items, full=True, newlines=False) == expected


@given(bsos)
def test_full_newlines_listing_is_one_record_per_line(items):
    expected = b"".join(per_record(item) + b"\n" for item in items)
    body = rendering.listing(items, full=True, newlines=True)
    assert body == expected
    assert body.count(b"\n") == len(items)  # escaped: no record spans two lines


@given(bsos)
def test_id_listings(items):
    ids = [orjson.dumps(item.id) for item in items]
    assert rendering.listing(items, full=False, newlines=False) == b"[" + b",".join(ids) + b"]"
    assert rendering.listing(items, full=False, newlines=True) == b"".join(i + b"\n" for i in ids)


@given(bsos)
def test_single_record_is_the_per_record_form(items):
    for item in items:
        assert rendering.bso(item) == per_record(item)


def test_modified_is_exact_two_decimal_text():
    body = rendering.listing([BSO("a", 1_700_000_000_120, "p", None), BSO("b", 10, "q", 0)], full=True, newlines=False)
    assert body == (
        b'[{"id":"a","modified":1700000000.12,"payload":"p"},'
        b'{"id":"b","modified":0.01,"payload":"q","sortindex":0}]'
    )
