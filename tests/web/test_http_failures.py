"""Conflicts (storage-api §4.3), unexpected failures (§14.2): never a traceback."""

from __future__ import annotations

import logging
import time

import sqlalchemy as sa
from support.web import assert_error

from syncstorage.timestamps import format_ms, now_ms


def _set_last_modified(database_url: str, value_ms: int) -> None:
    """Stamp every collection of the test user as modified at `value_ms`,
    as a concurrent writer would have."""
    engine = sa.create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE user_collections SET last_modified = :v WHERE userid = 1"), {"v": value_ms})
    engine.dispose()


def test_persistent_conflict_is_503_after_the_retry_budget_and_writes_nothing(make_client, sqlite_url):
    budget = 0.5
    client = make_client(sqlite_url, conflict_retry_seconds=budget)
    client.upload("col", {"id": "a", "payload": "old"})
    _set_last_modified(sqlite_url, now_ms() + 3_600_000)  # an hour ahead
    before = client.state()
    for method, path, kwargs in [
        ("PUT", "/storage/col/a", {"json": {"payload": "new"}}),
        ("POST", "/storage/col", {"json": [{"id": "a", "payload": "new"}]}),
        ("DELETE", "/storage/col/a", {}),
        ("DELETE", "/storage/col", {}),
    ]:
        started = time.monotonic()
        r = client.request(method, path, **kwargs)
        elapsed = time.monotonic() - started
        assert_error(r, 503)
        assert r.headers["Retry-After"] == "10"
        assert "X-Weave-Timestamp" in r.headers
        # retried for the budget (storage-model §5.4), not a moment longer
        # than a loaded machine needs
        assert budget - 0.05 <= elapsed < budget + 5
    assert client.state() == before


def test_same_10ms_clash_succeeds(make_client, sqlite_url):
    client = make_client(sqlite_url)
    client.upload("col", {"id": "a", "payload": "old"})
    for n in range(5):
        # another write got this very 10-ms slot: ours conflicts once, the
        # retry 10 ms later gets a later T and succeeds (§4.3)
        taken = now_ms()
        _set_last_modified(sqlite_url, taken)
        r = client.put("/storage/col/a", json={"payload": f"new{n}"})
        assert r.status_code == 200, r.text
        assert r.text > format_ms(taken)


def test_back_to_back_writes_succeed(client):
    for n in range(20):
        assert client.post("/storage/col", json=[{"id": "a", "payload": str(n)}]).status_code == 200
    assert client.get("/storage/col/a").json()["payload"] == "19"


def test_unexpected_failure_is_500_body_0_and_logged(make_client, sqlite_url, caplog):
    client = make_client(sqlite_url)
    client.upload("col", {"id": "a"})
    engine = sa.create_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE bso"))
    engine.dispose()
    with caplog.at_level(logging.ERROR, logger="syncstorage.web"):
        r = client.get("/storage/col")
    assert_error(r, 500)
    assert "Traceback" not in r.text
    assert "X-Weave-Timestamp" in r.headers
    assert any(record.exc_info for record in caplog.records)


def test_unreachable_nonce_store_is_503(make_client, sqlite_url):
    client = make_client(sqlite_url, nonce_store_url="redis://127.0.0.1:1/0")
    r = client.get("/info/collections")
    assert_error(r, 503)
    assert r.headers["Retry-After"] == "10"


def test_weave_timestamp_never_before_last_modified(make_client, sqlite_url):
    # a collection stamped ahead of this server's clock (another node's
    # clock, a clock step back): X-Weave-Timestamp >= X-Last-Modified (§7)
    client = make_client(sqlite_url)
    client.upload("col", {"id": "a", "payload": "p"})
    ahead = now_ms() + 3_600_000
    _set_last_modified(sqlite_url, ahead)
    for r in (
        client.get("/info/collections"),
        client.get("/storage/col"),
        client.get("/storage/col", headers={"X-If-Unmodified-Since": "1"}),
        client.get("/storage/col", headers={"X-If-Modified-Since": format_ms(ahead)}),
    ):
        assert r.status_code in (200, 304, 412), r.text
        assert r.headers["X-Last-Modified"] == format_ms(ahead)
        assert float(r.headers["X-Weave-Timestamp"]) >= float(r.headers["X-Last-Modified"])
