"""X-If-Modified-Since / X-If-Unmodified-Since (storage-api §6.1)."""

from __future__ import annotations

import pytest
from support.web import assert_error

IMS = "X-If-Modified-Since"
IUS = "X-If-Unmodified-Since"


@pytest.fixture
def seeded(client):
    client.put("/storage/col/x", json={"payload": "p"})
    client.stamp = client.get("/storage/col/x").headers["X-Last-Modified"]
    return client


def _no_body(response, status, last_modified):
    assert response.status_code == status, response.text
    assert response.content == b""
    assert "Content-Type" not in response.headers
    assert response.headers["X-Last-Modified"] == last_modified
    assert "X-Weave-Timestamp" in response.headers


ENDPOINTS = [
    ("GET", "/info/collections"),
    ("GET", "/info/quota"),
    ("GET", "/info/collection_usage"),
    ("GET", "/info/collection_counts"),
    ("GET", "/storage/col"),
    ("GET", "/storage/col/x"),
    ("PUT", "/storage/col/x"),
    ("POST", "/storage/col"),
    ("POST", "/storage/col?batch=true"),
    ("DELETE", "/storage/col/x"),
    ("DELETE", "/storage/col"),
    ("DELETE", "/storage/col?ids=x"),
    ("DELETE", "/storage"),
    ("DELETE", ""),
]


def _body(method, path):
    if method == "PUT":
        return {"json": {"payload": "new"}}
    if method == "POST":
        return {"json": [{"id": "x", "payload": "new"}]}
    return {}


@pytest.mark.parametrize("method,path", ENDPOINTS)
def test_if_modified_since_not_modified(seeded, method, path):
    before = seeded.state()
    r = seeded.request(method, path, headers={IMS: seeded.stamp}, **_body(method, path))
    _no_body(r, 304, seeded.stamp)
    assert seeded.state() == before


@pytest.mark.parametrize("method,path", ENDPOINTS)
def test_if_unmodified_since_precondition_failed(seeded, method, path):
    before = seeded.state()
    earlier = f"{float(seeded.stamp) - 0.01:.2f}"
    r = seeded.request(method, path, headers={IUS: earlier}, **_body(method, path))
    _no_body(r, 412, seeded.stamp)
    assert seeded.state() == before


@pytest.mark.parametrize("method,path", ENDPOINTS)
def test_satisfied_preconditions_proceed(seeded, method, path):
    r = seeded.request(method, path, headers={IUS: seeded.stamp}, **_body(method, path))
    assert r.status_code in (200, 202), r.text


@pytest.mark.parametrize("method,path", ENDPOINTS + [("GET", "/info/configuration")])
@pytest.mark.parametrize("headers", [{IMS: "1", IUS: "2"}, {IMS: "-1"}, {IUS: "abc"}, {IUS: "-0.01"}, {IMS: "nan"}, {IMS: ""}])
def test_bad_precondition_headers_are_400(seeded, method, path, headers):
    if path == "/info/configuration":
        # configuration skips precondition evaluation entirely (§7)
        assert seeded.request(method, path, headers=headers).status_code == 200
        return
    before = seeded.state()
    r = seeded.request(method, path, headers=headers, **_body(method, path))
    assert_error(r, 400)
    assert seeded.state() == before


def test_missing_item_and_collection(seeded):
    # resource timestamp 0 when absent: 304 for any t >= 0 (§6.1)
    _no_body(seeded.get("/storage/col/nope", headers={IMS: "0"}), 304, "0.00")
    _no_body(seeded.get("/storage/none", headers={IMS: "0"}), 304, "0.00")
    # create-only-if-absent
    assert seeded.put("/storage/col/new", json={"payload": "1"}, headers={IUS: "0"}).status_code == 200
    _no_body(seeded.put("/storage/col/new", json={"payload": "2"}, headers={IUS: "0"}), 412, seeded.get("/storage/col/new").headers["X-Last-Modified"])
    assert seeded.get("/storage/col/new").json()["payload"] == "1"


def test_item_precondition_uses_the_item_timestamp(seeded):
    seeded.put("/storage/col/y", json={"payload": "later"})
    # the collection moved on, but x itself did not
    r = seeded.get("/storage/col/x", headers={IMS: seeded.stamp})
    _no_body(r, 304, seeded.stamp)
    r = seeded.put("/storage/col/x", json={"payload": "q"}, headers={IUS: seeded.stamp})
    assert r.status_code == 200


def test_decimal_rounding_of_header(seeded):
    # "rounded up to two decimals": stamp - 0.001 becomes stamp
    slightly_less = f"{float(seeded.stamp) - 0.001:.3f}"
    _no_body(seeded.get("/storage/col", headers={IMS: slightly_less}), 304, seeded.stamp)


def test_if_modified_since_on_writes_to_missing_items(seeded):
    # the resource timestamp of a missing item is 0, so any t >= 0 gives 304
    # on writes as well (§6.1), and nothing is written
    before = seeded.state()
    _no_body(seeded.put("/storage/col/new", json={"payload": "p"}, headers={IMS: "0"}), 304, "0.00")
    _no_body(seeded.delete("/storage/col/new", headers={IMS: "0"}), 304, "0.00")
    _no_body(seeded.post("/storage/new", json=[{"id": "a"}], headers={IMS: "0"}), 304, "0.00")
    assert seeded.state() == before
    # an older t lets the write through
    r = seeded.put("/storage/col/x", json={"payload": "newer"}, headers={IMS: f"{float(seeded.stamp) - 0.01:.2f}"})
    assert r.status_code == 200
