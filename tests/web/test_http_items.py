"""Item endpoints (storage-api §10) and BSO validation on PUT (§3, §5.1)."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from support.web import BAD_CRYPTO, assert_error


@pytest.fixture
def seeded(client):
    client.put("/storage/col/keep", json={"payload": "kept", "sortindex": 7})
    return client


def test_get_missing_item_and_collection(client):
    assert_error(client.get("/storage/col/nope"), 404)
    client.put("/storage/col/x", json={})
    assert_error(client.get("/storage/col/nope"), 404)


def test_put_defaults_and_output_shape(client):
    r = client.put("/storage/col/x", json={})
    assert r.status_code == 200
    r = client.get("/storage/col/x")
    assert r.json() == {"id": "x", "modified": float(r.headers["X-Last-Modified"]), "payload": ""}
    assert set(r.json()) == {"id", "modified", "payload"}


def test_put_partial_update_keeps_other_fields(client):
    t1 = client.put("/storage/col/x", json={"payload": "p", "sortindex": 3}).text
    t2 = client.put("/storage/col/x", json={"sortindex": 4}).text
    r = client.get("/storage/col/x").json()
    assert r == {"id": "x", "modified": float(t2), "payload": "p", "sortindex": 4}
    assert t2 > t1
    # ttl-only: modified stays (§3.3), the collection timestamp moves
    t3 = client.put("/storage/col/x", json={"ttl": 1000}).text
    r = client.get("/storage/col/x")
    assert r.json()["modified"] == float(t2)
    assert client.get("/info/collections").json()["col"] == float(t3)
    # nulls mean "not supplied"
    client.put("/storage/col/x", json={"payload": None, "sortindex": None, "ttl": None})
    assert client.get("/storage/col/x").json()["payload"] == "p"


def test_put_body_id_ignored_but_validated(client):
    assert client.put("/storage/col/x", json={"id": "other", "payload": "p"}).status_code == 200
    assert client.get("/storage/col/x").json()["payload"] == "p"
    assert_error(client.get("/storage/col/other"), 404)


def test_put_ttl_zero_expires_immediately(client):
    client.put("/storage/col/x", json={"payload": "p", "ttl": 0})
    assert_error(client.get("/storage/col/x"), 404)
    assert client.get("/storage/col").json() == []


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b'"notabso"',
        b"42",
        b"[]",
        b"null",
        b'{"payload": 42}',
        b'{"payload": {"a": 1}}',
        b'{"payload": "p", "unexpected": 1}',
        b'{"payload": "p", "payload_size": 1}',
        b'{"sortindex": "12"}',
        b'{"sortindex": 2.6}',
        b'{"sortindex": 5.0}',
        b'{"sortindex": true}',
        b'{"sortindex": 1000000000}',
        b'{"sortindex": -1000000000}',
        b'{"sortindex": 123456789012345678901234567890}',
        b'{"ttl": -1}',
        b'{"ttl": "2.6"}',
        b'{"ttl": 1.5}',
        b'{"ttl": false}',
        b'{"ttl": 1000000000}',
        b'{"id": 5, "payload": "p"}',
        b'{"id": null, "payload": "p"}',
        b'{"id": "a\\nb", "payload": "p"}',
        b'{"id": "", "payload": "p"}',
        b'{"modified": [1], "payload": "p"}',
        b'{"payload": NaN}',
        b'{"payload": "\\ud800"}',
        b'{"payload": "a\\u0000b"}',
    ],
)
def test_put_invalid_bso_is_400_8_and_changes_nothing(seeded, body):
    before = seeded.state()
    r = seeded.put("/storage/col/keep", content=body, headers={"Content-Type": "application/json"})
    assert_error(r, 400, 8)
    assert "X-Weave-Timestamp" in r.headers
    assert seeded.state() == before


@pytest.mark.parametrize(
    "body",
    [
        b'{"sortindex": 999999999, "ttl": 999999999}',
        b'{"ttl": 31536001}',  # the Python server silently dropped ttls over a year
        b'{"sortindex": -999999999, "ttl": 0}',
        b'{"modified": 12.5, "collection": "other", "payload": "p"}',
        b'{"id": "keep", "payload": "p"}',
    ],
)
def test_put_boundary_values_are_accepted(seeded, body):
    r = seeded.put("/storage/col/keep", content=body)
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("content_type", [None, "application/json", "text/plain", "application/json; charset=UTF-8", "Application/JSON"])
def test_put_content_types_read_as_json(client, content_type):
    headers = {} if content_type is None else {"Content-Type": content_type}
    r = client.put("/storage/col/x", content=b'{"payload": "p"}', headers=headers)
    assert r.status_code == 200


@pytest.mark.parametrize("content_type", ["application/newlines", "application/octet-stream", "text/html"])
def test_put_other_content_types_are_415(seeded, content_type):
    before = seeded.state()
    r = seeded.put("/storage/col/keep", content=b'{"payload": "p"}', headers={"Content-Type": content_type})
    assert_error(r, 415)
    assert seeded.state() == before


def test_put_payload_limit(make_client, sqlite_url):
    client = make_client(sqlite_url, max_post_bytes=1000, max_record_payload_bytes=1000, max_request_bytes=5096)
    assert client.put("/storage/col/x", json={"payload": "x" * 1000}).status_code == 200
    r = client.put("/storage/col/x", json={"payload": "é" * 501})  # 1002 UTF-8 bytes
    assert_error(r, 400, 8)
    assert client.get("/storage/col/x").json()["payload"] == "x" * 1000


def test_put_body_over_request_limit_is_413(make_client, sqlite_url):
    client = make_client(sqlite_url, max_post_bytes=1000, max_record_payload_bytes=1000, max_request_bytes=5096)
    r = client.put("/storage/col/x", content=b"x" * 5097)  # not even JSON: size first
    assert_error(r, 413, 17)
    r = client.put("/storage/col/x", content=json.dumps({"payload": "x" * 5100}))
    assert_error(r, 413, 17)
    assert client.get("/info/collections").json() == {}


def test_put_known_bad_crypto_payload(client):
    assert_error(client.put("/storage/crypto/keys", json={"payload": BAD_CRYPTO}), 400, 8)
    assert client.get("/info/collections").json() == {}
    assert client.put("/storage/crypto/keys", json={"payload": BAD_CRYPTO.replace("AAAA", "BAAA", 1)}).status_code == 200
    assert client.put("/storage/other/keys", json={"payload": BAD_CRYPTO}).status_code == 200
    # any whitespace between the key and the value (§9.6 regex)
    for spacing in ("", "\t ", "\n"):
        payload = BAD_CRYPTO.replace('"IV": ', '"IV":' + spacing)
        assert_error(client.put("/storage/crypto/keys", json={"payload": payload}), 400, 8)


def test_ttl_lifetime_ends_on_time(client, clock):
    # gone once T + ttl has passed, never late (§11)
    t = float(client.put("/storage/col/x", json={"payload": "p", "ttl": 1}).text)
    client.put("/storage/col/y", json={"payload": "p", "ttl": 60})
    clock.advance(t + 1.05 - clock.time())
    assert_error(client.get("/storage/col/x"), 404)
    assert client.get("/storage/col").json() == ["y"]
    assert client.get("/info/collection_counts").json() == {"col": 1}


def test_delete_item(seeded):
    assert_error(seeded.delete("/storage/col/nope"), 404)
    assert_error(seeded.delete("/storage/nocol/nope"), 404)
    assert "nocol" not in seeded.get("/info/collections").json()
    r = seeded.delete("/storage/col/keep")
    assert r.status_code == 200
    t = r.headers["X-Last-Modified"]
    assert r.text == '{"modified":%s}' % t
    assert r.headers["X-Weave-Timestamp"] == t
    assert seeded.get("/info/collections").json() == {"col": float(t)}
    assert_error(seeded.delete("/storage/col/keep"), 404)


def test_delete_expired_item_is_404(client):
    client.put("/storage/col/x", json={"payload": "p", "ttl": 0})
    assert_error(client.delete("/storage/col/x"), 404)


def test_ttl_update_without_data(db_client, clock):
    # Mozilla's test_update_of_ttl_without_sending_data, on every database:
    # refreshing a ttl keeps the payload, even if the whole-second expiry
    # already hid the record (§3.3, §11)
    c = db_client
    for id in ("TEST1", "TEST2"):
        c.put(f"/storage/col/{id}", json={"payload": "x", "ttl": 1})
    clock.advance(0.2)
    c.put("/storage/col/TEST2", json={"ttl": 10})
    c.put("/storage/col/TEST3", json={"ttl": 10})
    c.put("/storage/col/TEST1", json={"sortindex": 3})  # leaves its ttl alone
    clock.advance(0.8)
    items = {b["id"]: b for b in c.get("/storage/col?full=1").json()}
    assert sorted(items) == ["TEST2", "TEST3"]
    assert items["TEST2"]["payload"] == "x"
    assert items["TEST3"]["payload"] == ""
    assert items["TEST2"]["modified"] < items["TEST3"]["modified"]


def test_expired_items_can_be_overwritten(client):
    client.put("/storage/col/TEST", json={"payload": "XYZ", "ttl": 0})
    assert_error(client.get("/storage/col/TEST"), 404)
    assert client.put("/storage/col/TEST", json={"payload": "XYZ", "ttl": 42}).status_code == 200
    assert client.put("/storage/col/TEST", json={"payload": "ABC"}).status_code == 200
    assert client.get("/storage/col/TEST").json()["payload"] == "ABC"


def test_nul_in_payload_is_refused_on_every_database(db_client):
    # not storable in PostgreSQL text: refused everywhere, never a 500
    r = db_client.put("/storage/col/a", content=b'{"payload": "a\\u0000b"}')
    assert_error(r, 400, 8)
    r = db_client.post("/storage/col", content=b'[{"id": "a", "payload": "a\\u0000b"}, {"id": "b", "payload": "\\u00e9\\ud83d\\ude00"}]')
    assert r.status_code == 200
    assert r.json()["failed"] == {"a": "payload contains NUL"}
    r = db_client.post("/storage/col?batch=true", content=b'[{"id": "a", "payload": "\\u0000"}]')
    assert r.status_code == 202 and list(r.json()["failed"]) == ["a"]
    assert db_client.get("/storage/col/b").json()["payload"] == "\u00e9\U0001f600"


def test_ids_differing_in_spaces_or_case_are_distinct(db_client):
    # printable ASCII ids, compared byte by byte (§1.2): MySQL's PAD SPACE
    # collations would make "a", "a " and "a  " one row
    c = db_client
    ids = ["a", "a ", "a  ", " a", "A"]
    for id in ids:
        assert c.put(f"/storage/col/{quote(id)}", json={"payload": repr(id)}).status_code == 200
    for id in ids:
        assert c.get(f"/storage/col/{quote(id)}").json()["payload"] == repr(id)
    assert c.get("/storage/col?sort=index").json() == ["a  ", "a ", "a", "A", " a"]  # id desc, bytewise
    c.delete(f"/storage/col/{quote('a ')}")
    assert sorted(c.get("/storage/col").json()) == [" a", "A", "a", "a  "]
    batch = c.post("/storage/b?batch=true", json=[{"id": "x"}, {"id": "x "}]).json()["batch"]
    c.post(f"/storage/b?batch={batch}&commit=true", json=[{"id": "X"}])
    assert sorted(c.get("/storage/b").json()) == ["X", "x", "x "]
