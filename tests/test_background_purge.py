"""The purge inside `serve` (purge_interval): it deletes expired rows while
the app runs, keeps live ones, and only one process purges at a time."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from support.cli import storage  # noqa: F401  (fixture)

from syncstorage.app import create_app
from syncstorage.background_purge import BackgroundPurge, PurgeLock
from syncstorage.settings import Settings
from syncstorage.storage.sql import SQLStorage
from syncstorage.storage.sql.schema import MAX_TTL
from syncstorage.timestamps import now_ms

EXPIRED = 2500  # more than one bounded pass of 1000 rows



def seed(storage: SQLStorage) -> None:
    bso, long_ago = storage.tables.bso_tables[0], now_ms() // 1000 - 2 * 86400
    rows = [
        {"userid": 1, "collection": 4, "id": f"{kind}{n}", "modified": now_ms(), "payload": "x", "payload_size": 1, "ttl": ttl}
        for kind, count, ttl in (("live", 3, MAX_TTL), ("expired", EXPIRED, long_ago))
        for n in range(count)
    ]
    with storage.engine.begin() as conn:
        conn.execute(sa.insert(bso), rows)


def remaining(storage: SQLStorage) -> int:
    bso = storage.tables.bso_tables[0]
    with storage.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(bso)).scalar_one()


def running_app(database_url, tmp_path, **settings) -> TestClient:
    app = create_app(Settings(database_url=database_url, data_dir=tmp_path, master_secret=["s" * 32], **settings))
    return TestClient(app)


def wait_for(condition, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def recorded(monkeypatch, cls, method: str) -> list:
    """The results of every call of `cls.method` from now on."""
    results, original = [], getattr(cls, method)

    def recording(self, *args, **kwargs):
        results.append(original(self, *args, **kwargs))
        return results[-1]

    monkeypatch.setattr(cls, method, recording)
    return results


def test_off_by_default(database_url, storage, tmp_path, monkeypatch):
    started = recorded(monkeypatch, BackgroundPurge, "start")  # the next test sees it called
    seed(storage)
    with running_app(database_url, tmp_path) as client:
        assert client.get("/__lbheartbeat__").status_code == 200  # the lifespan has run
    assert started == []
    assert remaining(storage) == 3 + EXPIRED


def test_purges_expired_rows_in_the_background_and_keeps_live_ones(database_url, storage, tmp_path, monkeypatch):
    started = recorded(monkeypatch, BackgroundPurge, "start")
    seed(storage)
    with running_app(database_url, tmp_path, purge_interval=1) as client:
        assert started == [None]
        assert wait_for(lambda: remaining(storage) == 3)
        assert client.get("/__lbheartbeat__").status_code == 200  # serving meanwhile
    assert remaining(storage) == 3
    runs = storage.purge_runs(limit=1000)  # every round is recorded for the admin page
    assert runs and {r.source for r in runs} == {"background"}
    assert sum(r.expired_items for r in runs) == EXPIRED


def test_only_one_process_purges_at_a_time(database_url, storage, tmp_path, monkeypatch):
    seed(storage)
    other_worker = PurgeLock(SQLStorage(database_url))
    assert other_worker.acquire()
    try:
        assert not PurgeLock(storage).acquire()  # the same lock, as another worker sees it
        acquired = recorded(monkeypatch, PurgeLock, "acquire")
        with running_app(database_url, tmp_path, purge_interval=1):
            assert wait_for(lambda: acquired[:2] == [False, False])  # two rounds, both skipped
            assert remaining(storage) == 3 + EXPIRED
            other_worker.release()
            assert wait_for(lambda: remaining(storage) == 3)
    finally:
        other_worker.release()
        other_worker.storage.close()
    mine = PurgeLock(storage)
    assert mine.acquire()  # released again after the run
    mine.release()
