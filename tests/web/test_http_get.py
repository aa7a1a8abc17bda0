"""GET /storage/{collection}: parameters, pagination, output formats (§5.3, §9.1, §12)."""

from __future__ import annotations

import time

import pytest
from support.web import assert_error


@pytest.fixture
def three(client):
    """Three writes, each its own timestamp: a (oldest), b, c (newest), at
    least 0.02 s apart (tests that round a bound up by 0.01 need the gap)."""
    stamps = {}
    for n, id in enumerate("abc"):
        r = client.put(f"/storage/col/{id}", json={"payload": id, "sortindex": 10 - n * 5 if id != "b" else None})
        stamps[id] = r.text
        time.sleep(0.021)  # timestamps are 10 ms steps: > 20 ms apart is >= 0.02
    client.stamps = stamps
    return client


def ids(response):
    assert response.status_code == 200, response.text
    return response.json()


def test_missing_collection_is_empty(client):
    r = client.get("/storage/nothing")
    assert r.json() == []
    assert r.headers["X-Last-Modified"] == "0.00"
    assert r.headers["X-Weave-Records"] == "0"


def test_sorts(three):
    assert ids(three.get("/storage/col")) == ["c", "b", "a"]
    assert ids(three.get("/storage/col?sort=newest")) == ["c", "b", "a"]
    assert ids(three.get("/storage/col?sort=oldest")) == ["a", "b", "c"]
    # sortindex desc, null last: a=10, c=0, b=null
    assert ids(three.get("/storage/col?sort=index")) == ["a", "c", "b"]


def test_newer_older(three):
    s = three.stamps
    assert ids(three.get(f"/storage/col?newer={s['a']}")) == ["c", "b"]
    assert ids(three.get(f"/storage/col?older={s['c']}")) == ["b", "a"]
    assert ids(three.get(f"/storage/col?newer={s['a']}&older={s['c']}")) == ["b"]
    # rounded up to two decimals: a's time minus a little is still "newer than" it
    assert ids(three.get(f"/storage/col?newer={float(s['a']) - 0.001:.3f}")) == ["c", "b"]
    assert ids(three.get("/storage/col?newer=0")) == ["c", "b", "a"]


def test_ids_param(three):
    assert ids(three.get("/storage/col?ids=a,c,zzz&sort=oldest")) == ["a", "c"]
    assert ids(three.get("/storage/col?ids=a%2Cc&sort=oldest")) == ["a", "c"]
    assert ids(three.get("/storage/col?ids=%20a%20,,c,&sort=oldest")) == ["a", "c"]
    assert ids(three.get("/storage/col?ids=" + ",".join(f"x{n}" for n in range(99)) + ",a")) == ["a"]


def test_full_param(three):
    for value in ("1", "0", "", "yes"):
        r = three.get(f"/storage/col?full={value}&sort=oldest")
        assert [bso["id"] for bso in r.json()] == ["a", "b", "c"]
    r = three.get("/storage/col?full&ids=b")
    assert r.text == '[{"id":"b","modified":%s,"payload":"b"}]' % three.stamps["b"]


def test_unknown_and_empty_params_ignored(three):
    assert ids(three.get("/storage/col?blabla=1&&limit=2")) == ["c", "b"]


@pytest.mark.parametrize(
    "query",
    [
        "ids=",
        "ids=,,",
        "ids=" + ",".join(f"x{n}" for n in range(101)),
        "ids=a%0Ab",
        "ids=" + "x" * 65,
        "newer=-1",
        "newer=abc",
        "newer=NaN",
        "newer=1e9",
        "older=-0.5",
        "older=",
        "limit=-1",
        "limit=abc",
        "limit=1.5",
        "limit=",
        "sort=random",
        "sort=",
        "offset=garbage",
        "offset=abc&sort=index",
        "offset=-1&sort=index",
        "offset=12:x",
    ],
)
def test_bad_params_are_400(three, query):
    before = three.state()
    r = three.get(f"/storage/col?{query}")
    assert_error(r, 400)
    assert "X-Weave-Timestamp" in r.headers
    assert three.state() == before


def test_limit_zero(three):
    r = three.get("/storage/col?limit=0")
    assert r.json() == []
    assert "X-Weave-Next-Offset" not in r.headers


def walk(client, query):
    """Follow X-Weave-Next-Offset to the end; returns the ids in page order."""
    seen, offset, pages = [], None, 0
    while True:
        url = f"/storage/col?{query}" + (f"&offset={offset}" if offset else "")
        r = client.get(url)
        assert r.status_code == 200, r.text
        page = r.json()
        assert r.headers["X-Weave-Records"] == str(len(page))
        seen += [item if isinstance(item, str) else item["id"] for item in page]
        pages += 1
        offset = r.headers.get("X-Weave-Next-Offset")
        if offset is None:
            return seen, pages
        assert pages < 100


@pytest.mark.parametrize("sort", ["newest", "oldest", "index"])
def test_pagination_walks_everything_once(client, sort):
    # many items share one timestamp: the hard case for time-based offsets
    client.upload("col", *[{"id": f"s{n:02d}", "payload": "p", "sortindex": n % 3} for n in range(25)])
    time.sleep(0.011)
    client.upload("col", *[{"id": f"t{n:02d}", "payload": "p"} for n in range(7)])
    every, _ = walk(client, f"sort={sort}")
    for limit in (1, 2, 5, 31, 32, 50):
        paged, pages = walk(client, f"sort={sort}&limit={limit}")
        assert paged == every
        assert pages == max(1, -(-32 // limit))


def test_pagination_example_of_the_spec(client):
    client.upload("col", {"id": "aaaaaaaaaaaa"}, {"id": "bbbbbbbbbbbb"})
    t = client.get("/info/collections").json()["col"]
    r = client.get("/storage/col?sort=newest&limit=1")
    assert r.json() == ["bbbbbbbbbbbb"]
    assert r.headers["X-Weave-Next-Offset"] == f"{round(t * 1000)}:1"
    r = client.get(f"/storage/col?sort=newest&limit=1&offset={r.headers['X-Weave-Next-Offset']}")
    assert r.json() == ["aaaaaaaaaaaa"]
    assert "X-Weave-Next-Offset" not in r.headers


def test_offset_outside_newer_older_is_400(three):
    s = three.stamps
    r = three.get("/storage/col?limit=1")
    offset = r.headers["X-Weave-Next-Offset"]
    assert_error(three.get(f"/storage/col?limit=1&offset={offset}&older={s['b']}"), 400)


def test_expired_items_are_not_listed(client):
    client.upload("col", {"id": "gone", "payload": "p", "ttl": 0}, {"id": "here", "payload": "p"})
    assert client.get("/storage/col").json() == ["here"]


# --- content negotiation (§5.3) ---------------------------------------------


@pytest.mark.parametrize("accept", [None, "", "*/*", "application/*", "application/json", "text/html, application/json;q=0.5"])
def test_json_output(three, accept):
    headers = {} if accept is None else {"Accept": accept}
    r = three.get("/storage/col", headers=headers)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.json() == ["c", "b", "a"]


@pytest.mark.parametrize("accept", ["application/newlines", "application/json;q=0.5, application/newlines", "application/*, application/newlines"])
def test_newlines_output(client, accept):
    client.upload("col", {"id": "a", "payload": "two\nlines", "sortindex": 1}, {"id": "b", "payload": "x"})
    r = client.get("/storage/col?full=1&sort=index", headers={"Accept": accept})
    assert r.headers["content-type"] == "application/newlines"
    lines = r.content.split(b"\n")
    assert lines[-1] == b""
    assert len(lines) == 3
    assert b"two\\nlines" in lines[0]
    r = client.get("/storage/col?sort=index", headers={"Accept": accept})
    assert r.content == b'"a"\n"b"\n'
    r = client.get("/storage/empty", headers={"Accept": accept})
    assert r.status_code == 200
    assert r.content == b""
    assert r.headers["content-type"] == "application/newlines"


@pytest.mark.parametrize("accept", ["x/yy", "text/html", "application/json;q=0"])
def test_unacceptable_is_406(three, accept):
    assert_error(three.get("/storage/col", headers={"Accept": accept}), 406)


@pytest.mark.parametrize(
    "query,expected",
    [
        ("limit=99999999999999999999", ["c", "b", "a"]),
        ("newer=99999999999999999999", []),
        ("older=99999999999999999999", ["c", "b", "a"]),
        ("newer=0.001", ["c", "b", "a"]),
    ],
)
def test_huge_values_are_not_500(three, query, expected):
    assert ids(three.get(f"/storage/col?{query}")) == expected


@pytest.mark.parametrize("offset", ["99999999999999999999999:1", "1:99999999999999999999", "99999999999999999999"])
def test_huge_offsets_are_not_500(three, offset):
    for sort in ("newest", "oldest", "index"):
        r = three.get(f"/storage/col?sort={sort}&offset={offset}&limit=1")
        assert r.status_code in (200, 400), r.text


# --- query-string parsing (§2) and client timestamps (§4.1) -------------------


def test_query_string_parsing(three):
    # empty segments are ignored, order is irrelevant, '+' is a space
    assert ids(three.get("/storage/col?&limit=2&")) == ["c", "b"]
    assert ids(three.get("/storage/col?limit=2&&sort=oldest")) == ids(three.get("/storage/col?sort=oldest&limit=2"))
    three.put("/storage/col/a b", json={"payload": "spaced"})
    assert ids(three.get("/storage/col?ids=a+b")) == ["a b"]
    assert ids(three.get("/storage/col?ids=a%20b,c&sort=oldest")) == ["c", "a b"]
    # names are percent-decoded too
    assert ids(three.get("/storage/col?%6Cimit=1")) == ["a b"]


def test_repeated_parameter_uses_the_last_value(three):
    assert ids(three.get("/storage/col?limit=5&limit=1&sort=index&sort=oldest")) == ["a"]


def test_many_decimals_round_up(three):
    # 40 decimals: rounding up must see the last digit (decimal, not float,
    # and not a 28-digit decimal context)
    a = three.stamps["a"]
    tiny = "0" * 39 + "1"
    assert ids(three.get(f"/storage/col?older={a}{tiny}")) == ["a"]  # older than a + 0.01
    assert ids(three.get(f"/storage/col?newer={a}{tiny}&sort=oldest")) == ["b", "c"]
    assert ids(three.get(f"/storage/col?older={a}{'0' * 40}")) == []
    r = three.get("/storage/col/a", headers={"X-If-Modified-Since": f"{float(a) - 0.01:.2f}{tiny}"})
    assert r.status_code == 304


def test_thousands_of_digits_are_not_500(three):
    # Python refuses int() of > 4300 digits: the value must be capped first
    assert ids(three.get(f"/storage/col?limit={'9' * 5000}")) == ["c", "b", "a"]
    assert ids(three.get(f"/storage/col?limit={'0' * 5000}1")) == ["c"]
    # a timestamp longer than 64 characters is refused before it is parsed (issue 10)
    for name in ("newer", "older"):
        assert_error(three.get(f"/storage/col?{name}={'9' * 5000}"), 400)
        assert_error(three.get(f"/storage/col?{name}={'0' * 5000}1"), 400)


def test_index_sort_ties_break_on_id_desc(client):
    # §9.1 / §16: sortindex desc, then id desc; null sortindex last
    client.upload("col", *[{"id": i, "sortindex": 1} for i in ("b", "d", "a", "c")], {"id": "z"}, {"id": "y", "sortindex": 2})
    assert ids(client.get("/storage/col?sort=index")) == ["y", "d", "c", "b", "a", "z"]
    paged = [ids(client.get(f"/storage/col?sort=index&limit=2&offset={n}")) for n in (0, 2, 4)]
    assert sum(paged, []) == ["y", "d", "c", "b", "a", "z"]


def test_offset_below_newer_is_400(three):
    s = three.stamps
    r = three.get("/storage/col?limit=1&sort=oldest")
    offset = r.headers["X-Weave-Next-Offset"]  # bound = a's timestamp
    assert_error(three.get(f"/storage/col?limit=1&sort=oldest&offset={offset}&newer={s['b']}"), 400)
    # the form must fit the sort
    assert_error(three.get(f"/storage/col?sort=index&offset={offset}"), 400)
    assert_error(three.get("/storage/col?sort=oldest&offset=1"), 400)


def test_no_limit_returns_every_record(make_client, sqlite_url):
    # §16: no default page size (production pages at 10000)
    client = make_client(sqlite_url, max_post_records=10001, max_total_records=10001)
    client.upload("col", *[{"id": f"i{n:05d}"} for n in range(10001)])
    r = client.get("/storage/col")
    assert len(r.json()) == 10001
    assert r.headers["X-Weave-Records"] == "10001"
    assert "X-Weave-Next-Offset" not in r.headers


def test_extreme_values_on_every_database(db_client):
    # limits of every column and query value reach the SQL of each database
    db_client.upload("col", {"id": "a", "sortindex": 999999999, "ttl": 999999999}, {"id": "b", "sortindex": -999999999})
    for query, expected in [
        ("sort=index", ["a", "b"]),
        ("sort=index&offset=999999999999999999&limit=1", []),
        ("sort=newest&offset=999999999999999999:999999999999999999&limit=1", []),
        ("sort=oldest&offset=0:999999999999999999", []),
        ("limit=99999999999999999999&sort=index", ["a", "b"]),
        ("newer=99999999999999999999", []),
        ("older=99999999999999999999&sort=index", ["a", "b"]),
        ("ids=" + ",".join(f"x{n}" for n in range(99)) + ",b", ["b"]),
    ]:
        assert ids(db_client.get(f"/storage/col?{query}")) == expected, query
