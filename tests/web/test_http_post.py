"""POST /storage/{collection} without batches (storage-api §5.1, §6.2, §9.2, §9.6)."""

from __future__ import annotations

import json

import pytest
from support.web import BAD_CRYPTO, assert_error


@pytest.fixture
def seeded(client):
    client.upload("col", {"id": "keep", "payload": "kept"})
    return client


@pytest.mark.parametrize(
    "body,content_type",
    [
        (b"", None),
        (b"", "application/json"),
        (b"", "text/plain"),
        (b"not json", "application/json"),
        (b'"notalist"', "application/json"),
        (b"42", "application/json"),
        (b"{}", "application/json"),
        (b'["BAD"]', "application/json"),
        (b'[{"id": "a"}, 5]', "application/json"),
        (b'[{"payload": "no id"}]', "application/json"),
        (b'[{"id": 5, "payload": "p"}]', "application/json"),
        (b'[{"id": null}]', "application/json"),
        (b'[{"id": "a"}, {"id": "a"}]', "application/json"),
        (b'{"id": "a"}\n[]\n', "application/newlines"),
        (b'{"id": "a"}\n\n{"id": "b"}\n', "application/newlines"),
        (b"\n", "application/newlines"),
        (b'{"id": "a"}\nnope\n', "application/newlines"),
        (b'{"id": "a"}\n{"id": "a"}', "application/newlines"),
        (b"\r\n", "application/newlines"),
        (b'{"id": "a"}\n\n', "application/newlines"),  # one terminator only
        (b'{"id": "a"}\r\n\r\n', "application/newlines"),
        (b'\n{"id": "a"}\n', "application/newlines"),
        (b'[{"id": "a"}]', "application/newlines"),  # a line holding a list
        (b'{"id": "a"}\r{"id": "b"}', "application/newlines"),  # a lone \r splits nothing
    ],
)
def test_body_level_failures_are_400_8(seeded, body, content_type):
    before = seeded.state()
    headers = {} if content_type is None else {"Content-Type": content_type}
    r = seeded.post("/storage/col", content=body, headers=headers)
    assert_error(r, 400, 8)
    assert seeded.state() == before


def test_unsupported_content_type_is_415(seeded):
    before = seeded.state()
    r = seeded.post("/storage/col", content=b"[]", headers={"Content-Type": "application/xml"})
    assert_error(r, 415)
    assert seeded.state() == before


def test_per_item_failures(seeded):
    items = [
        {"id": "ok1", "payload": "p"},
        {"id": "a\tb", "payload": "p"},
        {"id": "A\n", "payload": "p"},  # a regex "$" would let this through
        {"id": "\nN", "payload": "p"},
        {"id": "", "payload": "p"},
        {"id": "x" * 65, "payload": "p"},
        {"id": "bad-ttl", "ttl": -1},
        {"id": "bad-ttl2", "ttl": "5"},
        {"id": "bad-si", "sortindex": 1.5},
        {"id": "bad-si2", "sortindex": True},
        {"id": "bad-payload", "payload": 42},
        {"id": "unknown", "payload": "p", "unexpected": 1},
        {"id": "ok2", "payload": "p", "sortindex": -5, "ttl": 100, "modified": 1, "collection": "x"},
    ]
    r = seeded.post("/storage/col", json=items)
    assert r.status_code == 200
    body = r.json()
    assert body["success"] == ["ok1", "ok2"]
    assert set(body["failed"]) == {"a\tb", "A\n", "\nN", "", "x" * 65, "bad-ttl", "bad-ttl2", "bad-si", "bad-si2", "bad-payload", "unknown"}
    assert body["failed"]["unknown"] == "unknown field unexpected"
    assert sorted(seeded.get("/storage/col").json()) == ["keep", "ok1", "ok2"]


def test_empty_list_still_bumps_the_collection(seeded):
    before = seeded.get("/info/collections").json()["col"]
    r = seeded.post("/storage/col", json=[])
    assert r.status_code == 200
    assert r.json() == {"modified": float(r.headers["X-Last-Modified"]), "success": [], "failed": {}}
    assert seeded.get("/info/collections").json()["col"] > before
    r = seeded.post("/storage/newcol", content=b"", headers={"Content-Type": "application/newlines"})
    assert r.status_code == 200
    assert "newcol" in seeded.get("/info/collections").json()


def test_record_count_limit(make_client, sqlite_url):
    client = make_client(sqlite_url, max_post_records=3, max_total_records=10)
    items = [{"id": "bad", "ttl": -1}] + [{"id": f"i{n}", "payload": "p"} for n in range(5)]
    body = client.post("/storage/col", json=items).json()
    # an invalid item does not count toward the limit (§9.2 step 1)
    assert body["success"] == ["i0", "i1", "i2"]
    assert body["failed"] == {"bad": "invalid ttl", "i3": "retry bso", "i4": "retry bso"}
    assert sorted(client.get("/storage/col").json()) == ["i0", "i1", "i2"]


def test_byte_limits(make_client, sqlite_url):
    client = make_client(sqlite_url, max_post_bytes=100, max_record_payload_bytes=150, max_request_bytes=8192, max_total_bytes=1000)
    items = [
        {"id": "a", "payload": "x" * 60},
        {"id": "b", "payload": "x" * 40},  # total 100: fine (inclusive)
        {"id": "c", "payload": "x"},  # total 101
        {"id": "d", "payload": "x" * 151},  # over the per-record limit
    ]
    body = client.post("/storage/col", json=items).json()
    assert body["success"] == ["a", "b"]
    assert body["failed"] == {"c": "retry bytes", "d": "retry bytes"}


def test_multibyte_payload_counts_utf8_bytes(make_client, sqlite_url):
    client = make_client(sqlite_url, max_post_bytes=10, max_record_payload_bytes=10, max_request_bytes=8192, max_total_bytes=1000)
    body = client.post("/storage/col", json=[{"id": "a", "payload": "é" * 5}, {"id": "b", "payload": "é"}]).json()
    assert body["success"] == ["a"]
    assert body["failed"] == {"b": "retry bytes"}


def test_body_over_request_limit_is_413(make_client, sqlite_url):
    client = make_client(sqlite_url, max_post_bytes=100, max_record_payload_bytes=100, max_request_bytes=4196)
    r = client.post("/storage/col", content=json.dumps([{"id": "a", "payload": "x" * 5000}]))
    assert_error(r, 413, 17)
    assert client.get("/info/collections").json() == {}


def test_huge_content_length_is_413(client):
    r = client.post("/storage/col", content=b"[]", headers={"Content-Length": "9" * 5000})
    assert_error(r, 413, 17)
    assert client.get("/info/collections").json() == {}


def test_chunked_body_over_request_limit_is_413(make_client, sqlite_url):
    # no Content-Length: the limit applies to the body actually read (§5.2)
    client = make_client(sqlite_url, max_post_bytes=100, max_record_payload_bytes=100, max_request_bytes=4196)
    chunks = [b'[{"id": "a", "payload": "', b"x" * 4000, b"x" * 4000, b'"}]']
    r = client.post("/storage/col", content=iter(chunks))
    assert "Content-Length" not in r.request.headers
    assert_error(r, 413, 17)
    assert client.get("/info/collections").json() == {}


def test_default_limits_accept_a_full_post(client):
    # max_post_bytes of payload in one request still fits max_request_bytes (§0)
    items = [{"id": f"i{n:02d}", "payload": "x" * 26214} for n in range(100)]
    items[0]["payload"] += "x" * (2621440 - 26214 * 100)
    r = client.post("/storage/col", json=items)
    assert r.status_code == 200
    assert len(r.json()["success"]) == 100


@pytest.mark.parametrize(
    "header,limit",
    [
        ("X-Weave-Records", 100),
        ("X-Weave-Bytes", 2621440),
        ("X-Weave-Total-Records", 10000),
        ("X-Weave-Total-Bytes", 262144000),
    ],
)
def test_size_hint_headers(seeded, header, limit):
    before = seeded.state()
    assert_error(seeded.post("/storage/col", json=[], headers={header: str(limit + 1)}), 400, 17)
    assert_error(seeded.post("/storage/col", json=[], headers={header: "9" * 5000}), 400, 17)
    for bad in ("abc", "-1", "1.5", "", "1e3", "+1", "0x10", b"\xb2"):
        assert_error(seeded.post("/storage/col", json=[], headers={header: bad}), 400, 0)
    assert seeded.state() == before
    assert seeded.post("/storage/col", json=[], headers={header: str(limit)}).status_code == 200
    assert seeded.post("/storage/col", json=[], headers={header: f" 000{limit} "}).status_code == 200
    assert seeded.post("/storage/col?batch=true", json=[], headers={header: str(limit)}).status_code == 202
    assert_error(seeded.post("/storage/col?batch=true", json=[], headers={header: str(limit + 1)}), 400, 17)


def test_newlines_input(client):
    body = b'{"id": "a", "payload": "line1\\nline2"}\r\n{"id": "b", "payload": "p"}\n'
    r = client.post("/storage/col", content=body, headers={"Content-Type": "application/newlines"})
    assert r.status_code == 200
    assert r.json()["success"] == ["a", "b"]
    assert client.get("/storage/col/a").json()["payload"] == "line1\nline2"
    # no final terminator is fine too
    r = client.post("/storage/col", content=b'{"id": "c"}', headers={"Content-Type": "application/newlines"})
    assert r.json()["success"] == ["c"]


def test_known_bad_crypto_payload(client):
    r = client.post("/storage/crypto", json=[{"id": "keys", "payload": BAD_CRYPTO}, {"id": "other", "payload": "p"}])
    assert_error(r, 400, 8)
    assert client.get("/info/collections").json() == {}
    assert client.post("/storage/bookmarks", json=[{"id": "keys", "payload": BAD_CRYPTO}]).status_code == 200


@pytest.mark.parametrize(
    "content_type,body",
    [
        ("text/plain", b'[{"id": "a"}, {"id": "b"}]'),
        ("text/plain; charset=utf-8", b'[{"id": "a"}, {"id": "b"}]'),
        ("APPLICATION/JSON;charset=UTF-8", b'[{"id": "a"}, {"id": "b"}]'),
        ("Application/Newlines; charset=utf-8", b'{"id": "a"}\r\n{"id": "b"}\r\n'),
        (None, b'[{"id": "a"}, {"id": "b"}]'),
    ],
)
def test_content_types_of_post(client, content_type, body):
    # media type compared without parameters, case-insensitively (§5.1)
    headers = {} if content_type is None else {"Content-Type": content_type}
    r = client.post("/storage/col", content=body, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["success"] == ["a", "b"]
