"""Info endpoints (storage-api §8), deletes (§8.1, §9.5) and quota (§13)."""

from __future__ import annotations

import pydantic
import pytest
from support.web import assert_error

from syncstorage.settings import Settings

LIMITS = {
    "max_request_bytes": 2625536,
    "max_post_bytes": 2621440,
    "max_post_records": 100,
    "max_record_payload_bytes": 2621440,
    "max_total_bytes": 262144000,
    "max_total_records": 10000,
}


def test_configuration(client):
    r = client.get("/info/configuration")
    assert r.status_code == 200
    assert r.json() == LIMITS
    assert "2621440," in r.text or "2621440}" in r.text  # integers, not 2621440.0
    assert r.headers["X-Last-Modified"] == "0.00"


def test_configuration_advertises_what_is_configured(make_client, sqlite_url):
    client = make_client(sqlite_url, max_post_records=50, quota_enabled=True, max_quota_limit=1000)
    assert client.get("/info/configuration").json() == {**LIMITS, "max_post_records": 50, "max_quota_limit": 1000}


@pytest.mark.parametrize(
    "limits",
    [
        {"max_post_bytes": 1000, "max_request_bytes": 5095, "max_record_payload_bytes": 1000},
        {"max_post_bytes": 1000, "max_request_bytes": 5096, "max_record_payload_bytes": 999},
        {"max_post_bytes": 1000, "max_request_bytes": 5096, "max_record_payload_bytes": 1000, "max_total_bytes": 999},
        {"max_post_records": 50, "max_total_records": 49},
    ],
)
def test_inconsistent_limits_refuse_to_start(limits):
    # every upload within the advertised limits must be acceptable (§0)
    with pytest.raises(pydantic.ValidationError):
        Settings(**limits)


def test_counts_usage_quota(db_client):
    db_client.upload("a", {"id": "1", "payload": "x" * 500}, {"id": "2", "payload": "é"}, {"id": "3", "payload": "x", "ttl": 0})
    db_client.upload("b", {"id": "1", "payload": ""})
    db_client.upload("c", {"id": "1", "payload": "x", "ttl": 0})
    r = db_client.get("/info/collection_counts")
    assert r.json() == {"a": 2, "b": 1}
    assert r.headers["X-Weave-Records"] == "2"
    r = db_client.get("/info/collection_usage")
    # 502 bytes at full precision; b has a live item of 0 bytes; c none
    assert r.text == '{"a":0.490234375,"b":0.0}'
    assert r.headers["X-Weave-Records"] == "2"
    r = db_client.get("/info/quota")
    assert r.json() == [0.490234375, None]
    ts = db_client.get("/info/collections")
    assert set(ts.json()) == {"a", "b", "c"}  # c exists though all its items expired
    assert r.headers["X-Last-Modified"] == ts.headers["X-Last-Modified"]


def test_usage_full_precision_example(client):
    client.upload("a", {"id": "1", "payload": "x" * 500})
    assert client.get("/info/collection_usage").text == '{"a":0.48828125}'


def test_delete_collection_forms(client):
    client.upload("col", {"id": "a"}, {"id": "b"}, {"id": "c"})
    r = client.delete("/storage/col?ids=a,zzz")
    assert r.status_code == 200
    t = r.headers["X-Last-Modified"]
    assert r.text == t
    assert client.get("/info/collections").json()["col"] == float(t)
    assert sorted(client.get("/storage/col").json()) == ["b", "c"]
    r = client.delete("/storage/col?ids=b%2Cc")
    assert client.get("/storage/col").json() == []
    assert "col" in client.get("/info/collections").json()  # still exists, empty
    r = client.delete("/storage/col")
    assert r.status_code == 200
    t = r.headers["X-Last-Modified"]
    assert r.text == t
    assert client.get("/info/collections").json() == {}
    assert client.get("/info/collections").headers["X-Last-Modified"] == t


def test_delete_missing_collection_creates_nothing(client):
    client.upload("col", {"id": "a"})
    storage_ts = client.get("/info/collections").headers["X-Last-Modified"]
    for path in ("/storage/other", "/storage/other?ids=a"):
        r = client.delete(path)
        assert r.status_code == 200
        assert r.text == storage_ts
        assert r.headers["X-Last-Modified"] == storage_ts
    assert list(client.get("/info/collections").json()) == ["col"]


@pytest.mark.parametrize("query", ["ids=", "ids=,", "ids=" + ",".join(str(n) for n in range(101)), "ids=a%0Ab"])
def test_delete_bad_ids_is_400(client, query):
    client.upload("col", {"id": "a"})
    before = client.state()
    assert_error(client.delete(f"/storage/col?{query}"), 400)
    assert client.state() == before


@pytest.mark.parametrize("path", ["", "/storage"])
def test_delete_everything(client, path):
    client.upload("col", {"id": "a"})
    batch = client.post("/storage/col?batch=true", json=[{"id": "b"}]).json()["batch"]
    r = client.delete(path)
    assert r.status_code == 200 and r.text == "null"
    t = r.headers["X-Last-Modified"]
    r = client.get("/info/collections")
    assert r.json() == {} and r.headers["X-Last-Modified"] == t
    assert client.get("/storage/col").json() == []
    assert_error(client.post(f"/storage/col?batch={batch}&commit=true", json=[]), 400)


def test_users_are_separate(client):
    other = client.as_user(2)
    client.upload("col", {"id": "a"})
    assert other.get("/info/collections").json() == {}
    other.delete("")
    assert client.get("/storage/col").json() == ["a"]


# --- quota (§13) -------------------------------------------------------------


def test_quota_off_by_default(client):
    r = client.put("/storage/col/a", json={"payload": "x" * 1000})
    assert "X-Weave-Quota-Remaining" not in r.headers
    assert client.get("/info/quota").json()[1] is None


def test_quota_on(make_client, sqlite_url):
    client = make_client(sqlite_url, quota_enabled=True, max_quota_limit=700)
    r = client.put("/storage/col/a", json={"payload": "x" * 500})
    assert r.status_code == 200
    assert r.headers["X-Weave-Quota-Remaining"] == "0.2"
    assert client.get("/info/quota").json() == [500 / 1024, 700 / 1024]
    before = client.state()
    assert_error(client.put("/storage/col/b", json={"payload": "x" * 200}), 403, 14)
    assert_error(client.post("/storage/col", json=[{"id": "b", "payload": "x" * 200}]), 403, 14)
    assert_error(client.post("/storage/col?batch=true", json=[{"id": "b", "payload": "x" * 200}]), 403, 14)
    assert client.state() == before
    r = client.post("/storage/col", json=[{"id": "b", "payload": "x" * 100}])
    assert r.status_code == 200
    assert r.headers["X-Weave-Quota-Remaining"] == "0.1"


def test_quota_plenty_left_sends_no_header(make_client, sqlite_url):
    client = make_client(sqlite_url, quota_enabled=True)
    r = client.put("/storage/col/a", json={"payload": "x"})
    assert r.status_code == 200
    assert "X-Weave-Quota-Remaining" not in r.headers


def test_quota_remaining_is_kb_rounded_to_two_decimals(make_client, sqlite_url):
    client = make_client(sqlite_url, quota_enabled=True, max_quota_limit=832949)
    r = client.put("/storage/col/a", json={"payload": "x" * 1000})
    assert r.headers["X-Weave-Quota-Remaining"] == "812.45"  # 831949 bytes left
    assert client.delete("/storage/col/a").status_code == 200
    assert "X-Weave-Quota-Remaining" not in client.delete("/storage/col").headers


def test_quota_at_commit_counts_the_staged_items(make_client, database_url):
    # §13: a commit writes everything staged; staging alone counts nothing
    client = make_client(database_url, quota_enabled=True, max_quota_limit=1000)
    r = client.post("/storage/col?batch=true", json=[{"id": "a", "payload": "x" * 400}])
    assert r.status_code == 202
    assert r.headers["X-Weave-Quota-Remaining"] == "0.59"
    batch = r.json()["batch"]
    for id in "bc":
        r = client.post(f"/storage/col?batch={batch}", json=[{"id": id, "payload": "x" * 400}])
        assert r.status_code == 202, r.text
    before = client.state()
    assert_error(client.post(f"/storage/col?batch={batch}&commit=true", json=[]), 403, 14)
    assert client.state() == before
    # a batch that fits: 300 staged + 200 in the commit request
    r = client.post("/storage/col?batch=true", json=[{"id": "d", "payload": "x" * 300}])
    small = r.json()["batch"]
    r = client.post(f"/storage/col?batch={small}&commit=true", json=[{"id": "e", "payload": "x" * 200}])
    assert r.status_code == 200, r.text
    assert r.headers["X-Weave-Quota-Remaining"] == "0.49"
    assert client.get("/info/quota").json() == [500 / 1024, 1000 / 1024]
