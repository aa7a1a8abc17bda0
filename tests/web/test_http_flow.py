"""The main storage flow, on every database: what a first sync does."""

from __future__ import annotations

import re

TS = re.compile(r"^[0-9]+\.[0-9]{2}$")


def test_empty_user(db_client):
    r = db_client.get("/info/collections")
    assert r.status_code == 200
    assert r.json() == {}
    assert r.headers["content-type"] == "application/json"
    assert r.headers["X-Last-Modified"] == "0.00"
    assert r.headers["X-Weave-Records"] == "0"
    assert TS.match(r.headers["X-Weave-Timestamp"])


def test_put_then_get_item(db_client):
    r = db_client.put("/storage/meta/global", json={"payload": "{\"syncID\":\"x\"}", "sortindex": 5})
    assert r.status_code == 200, r.text
    assert TS.match(r.text)  # a bare two-decimal number
    t = r.text
    assert r.headers["X-Last-Modified"] == t
    assert r.headers["X-Weave-Timestamp"] == t

    r = db_client.get("/storage/meta/global")
    assert r.status_code == 200
    assert r.text == '{"id":"global","modified":%s,"payload":"{\\"syncID\\":\\"x\\"}","sortindex":5}' % t
    assert r.headers["X-Last-Modified"] == t

    r = db_client.get("/info/collections")
    assert r.text == '{"meta":%s}' % t
    assert r.headers["X-Last-Modified"] == t
    assert r.headers["X-Weave-Records"] == "1"


def test_post_then_get_collection(db_client):
    r = db_client.post(
        "/storage/bookmarks",
        json=[
            {"id": "a", "payload": "pa", "sortindex": 2},
            {"id": "b", "payload": "pb"},
            {"id": "c", "payload": "pc", "ttl": -1},
        ],
    )
    assert r.status_code == 200
    body = r.json()
    assert body["success"] == ["a", "b"]
    assert body["failed"] == {"c": "invalid ttl"}
    t = r.headers["X-Last-Modified"]
    assert r.text.startswith('{"modified":%s,' % t)

    r = db_client.get("/storage/bookmarks")
    assert r.status_code == 200
    assert sorted(r.json()) == ["a", "b"]
    assert r.headers["X-Weave-Records"] == "2"
    assert r.headers["X-Last-Modified"] == t

    r = db_client.get("/storage/bookmarks?full=1&sort=index")
    assert r.json() == [
        {"id": "a", "modified": float(t), "payload": "pa", "sortindex": 2},
        {"id": "b", "modified": float(t), "payload": "pb"},
    ]
    assert ('"modified":%s' % t) in r.text


def test_deletes(db_client):
    db_client.upload("tabs", {"id": "x", "payload": "1"}, {"id": "y", "payload": "2"})
    db_client.upload("forms", {"id": "z", "payload": "3"})

    r = db_client.delete("/storage/tabs/x")
    assert r.status_code == 200
    t = r.headers["X-Last-Modified"]
    assert r.text == '{"modified":%s}' % t
    assert db_client.get("/storage/tabs/x").status_code == 404

    r = db_client.delete("/storage/forms")
    assert r.status_code == 200
    assert r.text == r.headers["X-Last-Modified"]
    assert list(db_client.get("/info/collections").json()) == ["tabs"]

    r = db_client.delete("")
    assert r.status_code == 200
    assert r.text == "null"
    t = r.headers["X-Last-Modified"]
    assert r.headers["X-Weave-Timestamp"] == t
    r = db_client.get("/info/collections")
    assert r.json() == {}
    assert r.headers["X-Last-Modified"] == t  # the tombstone keeps it (§4.4)


def test_batch_upload(db_client):
    r = db_client.post("/storage/history?batch=true", json=[{"id": "h1", "payload": "p1"}])
    assert r.status_code == 202
    batch = r.json()["batch"]
    assert re.fullmatch(r"[A-Za-z0-9]+=*", batch)
    r = db_client.post(f"/storage/history?batch={batch}", json=[{"id": "h2", "payload": "p2"}])
    assert r.status_code == 202
    assert r.json() == {"batch": batch, "success": ["h2"], "failed": {}}
    assert db_client.get("/storage/history").json() == []
    r = db_client.post(f"/storage/history?commit=true&batch={batch}", json=[])
    assert r.status_code == 200
    assert r.json()["success"] == []
    assert sorted(db_client.get("/storage/history").json()) == ["h1", "h2"]


def test_paging_and_incremental_sync(db_client):
    db_client.upload("history", *[{"id": f"h{n:02d}", "payload": "p", "sortindex": n % 4} for n in range(10)])
    t1 = db_client.get("/info/collections").json()["history"]
    db_client.upload("history", {"id": "late", "payload": "p"})
    for sort in ("newest", "oldest", "index"):
        everything = db_client.get(f"/storage/history?sort={sort}").json()
        assert len(everything) == 11
        paged, offset = [], ""
        while True:
            r = db_client.get(f"/storage/history?sort={sort}&limit=3{offset}")
            assert r.status_code == 200, r.text
            paged += r.json()
            if "X-Weave-Next-Offset" not in r.headers:
                break
            offset = "&offset=" + r.headers["X-Weave-Next-Offset"]
        assert paged == everything
    assert db_client.get(f"/storage/history?newer={t1:.2f}").json() == ["late"]


def test_preconditions_guard_writes(db_client):
    t = db_client.put("/storage/meta/global", json={"payload": "1"}).text
    r = db_client.put("/storage/meta/global", json={"payload": "2"}, headers={"X-If-Unmodified-Since": "0"})
    assert r.status_code == 412
    assert r.headers["X-Last-Modified"] == t
    r = db_client.get("/storage/meta/global", headers={"X-If-Modified-Since": t})
    assert r.status_code == 304
    assert db_client.get("/storage/meta/global").json()["payload"] == "1"
