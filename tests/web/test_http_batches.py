"""Batch uploads (storage-api §9.3, §9.4; batch ids per storage-model §7.1)."""

from __future__ import annotations

import base64
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from support.web import assert_error

from syncstorage.web.validation import encode_batch_id


def start(client, collection="col", items=()):
    r = client.post(f"/storage/{collection}?batch=true", json=list(items))
    assert r.status_code == 202, r.text
    return r.json()["batch"]


def test_staging_is_invisible(client):
    client.upload("col", {"id": "old", "payload": "o"})
    before = client.state()
    r = client.post("/storage/col?batch=true", json=[{"id": "a", "payload": "p"}, {"id": "bad", "ttl": -1}])
    assert r.status_code == 202
    body = r.json()
    assert set(body) == {"batch", "success", "failed"}
    assert body["success"] == ["a"] and body["failed"] == {"bad": "invalid ttl"}
    # X-Last-Modified: the collection's unchanged timestamp
    assert r.headers["X-Last-Modified"] == before["storage_ts"]
    assert client.state() == before


def test_staging_does_not_create_the_collection(client):
    start(client, "fresh", [{"id": "a"}])
    assert client.get("/info/collections").json() == {}
    r = client.post("/storage/fresh?batch=true", json=[])
    assert r.headers["X-Last-Modified"] == "0.00"


@pytest.mark.parametrize("new_batch", ["batch=true", "batch=TRUE", "batch=", "batch"])
def test_ways_to_start_a_batch(client, new_batch):
    r = client.post(f"/storage/col?{new_batch}", json=[{"id": "a"}])
    assert r.status_code == 202
    assert "batch" in r.json()


def test_commit_merges_staged_fields(client):
    client.upload("col", {"id": "x", "payload": "stored", "sortindex": 1})
    batch = start(client, items=[{"id": "x", "sortindex": 5}, {"id": "y", "payload": "p1", "sortindex": 2}])
    client.post(f"/storage/col?batch={batch}", json=[{"id": "y", "payload": "p2"}])
    r = client.post(f"/storage/col?batch={batch}&commit=true", json=[{"id": "z", "ttl": 3600}])
    assert r.status_code == 200
    t = r.headers["X-Last-Modified"]
    assert r.text == '{"modified":%s,"success":["z"],"failed":{}}' % t
    assert r.headers["X-Weave-Timestamp"] == t
    got = {b["id"]: b for b in client.get("/storage/col?full=1").json()}
    assert got["x"] == {"id": "x", "modified": float(t), "payload": "stored", "sortindex": 5}
    assert got["y"] == {"id": "y", "modified": float(t), "payload": "p2", "sortindex": 2}
    assert got["z"] == {"id": "z", "modified": float(t), "payload": ""}
    assert client.get("/info/collections").json()["col"] == float(t)


@pytest.mark.parametrize("form", ["raw", "encoded", "decimal", "commit-first", "last"])
def test_batch_id_forms(client, form):
    batch = start(client, items=[{"id": "a", "payload": "p"}])
    assert "+" not in batch and "/" not in batch
    query = {
        "raw": f"batch={batch}&commit=true",
        "encoded": f"batch={quote(batch, safe='')}&commit=true",
        "decimal": f"batch={base64.b64decode(batch).decode()}&commit=true",
        "commit-first": f"commit=true&batch={batch}",
        "last": f"commit=TRUE&batch={batch}",
    }[form]
    r = client.post(f"/storage/col?{query}", json=[])
    assert r.status_code == 200, r.text
    assert client.get("/storage/col").json() == ["a"]


@pytest.mark.parametrize("query", ["batch=true&commit=true", "commit=True&batch=TRUE", "commit=true&batch=", "commit=true&batch"])
def test_batch_true_commit_true_is_a_plain_post(client, query):
    r = client.post(f"/storage/col?{query}", json=[{"id": "a"}])
    assert r.status_code == 200
    assert set(r.json()) == {"modified", "success", "failed"}
    assert client.get("/storage/col").json() == ["a"]


@pytest.mark.parametrize(
    "query",
    [
        "batch=!!!",
        "batch=abc",
        "batch=" + base64.b64encode(b"12ab").decode(),
        "batch=" + base64.b64encode(b"1" * 30).decode(),
        "commit=true",
        "batch=true&commit=false",
        "batch=true&commit=",
        "batch=true&commit=1",
        "batch=" + base64.b64encode(b"1700000000142").decode(),  # well-formed, unknown
    ],
)
def test_bad_batch_parameters_are_400(client, query):
    batch = start(client, items=[{"id": "a"}])
    before = client.state()
    assert_error(client.post(f"/storage/col?{query}", json=[{"id": "b"}]), 400)
    assert client.state() == before
    # the open batch is unaffected
    assert client.post(f"/storage/col?batch={batch}&commit=true", json=[]).status_code == 200
    assert client.get("/storage/col").json() == ["a"]


def test_batch_is_bound_to_user_and_collection(client):
    batch = start(client, items=[{"id": "a"}])
    other_user = client.as_user(2)
    assert_error(other_user.post(f"/storage/col?batch={batch}&commit=true", json=[]), 400)
    assert_error(client.post(f"/storage/other?batch={batch}&commit=true", json=[]), 400)
    assert client.get("/info/collections").json() == {}
    assert other_user.get("/info/collections").json() == {}
    assert client.post(f"/storage/col?batch={batch}&commit=true", json=[]).status_code == 200


def test_committed_batch_cannot_be_reused(client):
    batch = start(client, items=[{"id": "a"}])
    assert client.post(f"/storage/col?batch={batch}&commit=true", json=[]).status_code == 200
    before = client.state()
    assert_error(client.post(f"/storage/col?batch={batch}", json=[{"id": "b"}]), 400)
    assert_error(client.post(f"/storage/col?batch={batch}&commit=true", json=[]), 400)
    assert client.state() == before


def test_bad_body_on_commit_keeps_the_batch(client):
    batch = start(client, items=[{"id": "a"}])
    assert_error(client.post(f"/storage/col?batch={batch}&commit=true", content=b"[nope"), 400, 8)
    assert client.get("/info/collections").json() == {}
    assert client.post(f"/storage/col?batch={batch}&commit=true", json=[]).status_code == 200


def test_newlines_batch(client):
    r = client.post("/storage/col?batch=true", content=b'{"id":"a"}\n{"id":"b"}\n', headers={"Content-Type": "application/newlines"})
    assert r.status_code == 202
    batch = r.json()["batch"]
    r = client.post(f"/storage/col?batch={batch}&commit=true", content=b"", headers={"Content-Type": "application/newlines"})
    assert r.status_code == 200
    assert sorted(client.get("/storage/col").json()) == ["a", "b"]


def test_batch_expires_two_hours_after_creation(make_client, sqlite_url):
    # batch ids are their creation time in ms (storage-model §7.1): age one
    # batch past 7200 s and another not quite, directly in the database
    client = make_client(sqlite_url)
    old = start(client, "bookmarks", [{"id": "a"}])
    young = start(client, "bookmarks", [{"id": "b"}])
    aged = {}
    engine = sa.create_engine(sqlite_url)
    with engine.begin() as conn:
        for batch_id, age_ms in ((old, 7_200_100), (young, 7_100_000)):
            number = int(base64.b64decode(batch_id))
            aged[batch_id] = encode_batch_id(number - age_ms)
            for table in ("batch_uploads", "batch_upload_items"):
                conn.execute(sa.text(f"UPDATE {table} SET batch = :new WHERE batch = :old"), {"new": number - age_ms, "old": number})
    engine.dispose()
    assert_error(client.post(f"/storage/bookmarks?batch={aged[old]}&commit=true", json=[]), 400)
    assert client.get("/info/collections").json() == {}
    r = client.post(f"/storage/bookmarks?batch={aged[young]}&commit=true", json=[])
    assert r.status_code == 200, r.text
    assert client.get("/storage/bookmarks").json() == ["b"]


def test_commit_request_items_are_the_newest(client):
    batch = start(client, items=[{"id": "x", "payload": "staged", "sortindex": 1}])
    r = client.post(f"/storage/col?batch={batch}&commit=true", json=[{"id": "x", "payload": "in commit"}])
    assert r.status_code == 200
    assert client.get("/storage/col/x").json() == {"id": "x", "modified": r.json()["modified"], "payload": "in commit", "sortindex": 1}


@pytest.mark.parametrize(
    "content_type,body,status",
    [
        ("application/json", b"[]", 200),
        ("application/json", b"{}", 400),
        ("application/json", b"", 400),
        ("application/newlines", b"", 200),
        ("application/newlines", b"\n", 400),
        ("application/newlines", b"{}", 400),  # one record without an id
        ("application/newlines", b"[]", 400),
    ],
)
def test_empty_commit_bodies(client, content_type, body, status):
    # the empty-commit matrix of Mozilla's storage tests (§5.1, §9.4)
    batch = start(client, items=[{"id": f"{n:02d}", "payload": "X"} for n in range(5)])
    r = client.post(f"/storage/col?commit=true&batch={batch}", content=body, headers={"Content-Type": content_type})
    assert r.status_code == status, r.text
    if status == 200:
        assert len(client.get("/storage/col").json()) == 5
    else:
        assert r.text == "8"
        assert client.get("/storage/col").json() == []


def test_batch_ttl_update_keeps_payloads(client, clock):
    # ttl-only items staged in a batch: payloads stay, ttl counts from commit
    client.upload("col", {"id": "a", "payload": "ayy"}, {"id": "b", "payload": "bea"}, {"id": "c", "payload": "see"})
    r = client.post("/storage/col?batch=true", json=[])
    original = r.headers["X-Last-Modified"]
    batch = r.json()["batch"]
    for id in "ab":
        r = client.post(f"/storage/col?batch={batch}", json=[{"id": id, "ttl": 1}])
        assert r.status_code == 202 and r.headers["X-Last-Modified"] == original
    r = client.post(f"/storage/col?batch={batch}&commit=true", json=[])
    committed = float(r.json()["modified"])
    got = {b["id"]: b for b in client.get("/storage/col?full=1").json()}
    assert {k: v["payload"] for k, v in got.items()} == {"a": "ayy", "b": "bea", "c": "see"}
    assert got["a"]["modified"] == committed  # every staged item gets T (§9.4)
    clock.advance(committed + 1.05 - clock.time())
    assert client.get("/storage/col?full=1").json()[0]["payload"] == "see"
    assert client.get("/storage/col").json() == ["c"]
