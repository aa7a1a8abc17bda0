"""Several worker processes: prometheus-client's multiprocess mode sums what
every worker recorded, whichever process answers the scrape."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import syncstorage
from syncstorage import metrics
from syncstorage.metrics.exposition import multiprocess_mode, prepare_worker_processes
from syncstorage.settings import Settings

WORKER = """
import sys
import sqlalchemy as sa
from syncstorage import metrics
from syncstorage.settings import Settings
metrics.configure(Settings(metrics_enabled=True))
metrics.observe_conflict()
metrics.observe_request("/1.5/{uid}/info/collections", "GET", 200, 0.002)
engine = sa.create_engine("sqlite:///" + sys.argv[1], pool_size=3)
metrics.track_pool(engine, "storage")
held = engine.connect()  # still checked out when the scrape runs
engine.connect().close()  # out and back in
print("ready", flush=True)
sys.stdin.read()  # alive until the test closes stdin
"""
SCRAPER = """
from prometheus_client import generate_latest
import pytest

import syncstorage
from syncstorage import metrics
from syncstorage.metrics.exposition import exposition_registry
print(generate_latest(exposition_registry()).decode())
"""


def _environment(multiproc_dir: str) -> dict[str, str]:
    src = os.path.dirname(os.path.dirname(syncstorage.__file__))
    return {**os.environ, "PROMETHEUS_MULTIPROC_DIR": multiproc_dir, "PYTHONPATH": src}


def test_samples_of_every_worker_are_summed(tmp_path):
    multiproc_dir = tmp_path / "prometheus"
    multiproc_dir.mkdir()
    env = _environment(str(multiproc_dir))
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(tmp_path / "db.sqlite")],
            env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        for _ in range(2)
    ]
    try:
        for worker in workers:
            assert worker.stdout.readline() == "ready\n"
        scraped = subprocess.run(
            [sys.executable, "-c", SCRAPER], env=env, capture_output=True, text=True, check=True
        )
    finally:
        for worker in workers:
            worker.communicate("")
    text = scraped.stdout
    assert "syncstorage_write_conflicts_total 2.0" in text
    route = 'method="GET",route="/1.5/{uid}/info/collections",status="200"'
    assert f"syncstorage_request_duration_seconds_count{{{route}}} 2.0" in text
    # each worker's pool: size 3, one connection held
    assert 'syncstorage_db_pool_size{pool="storage"} 6.0' in text
    assert 'syncstorage_db_pool_checked_out{pool="storage"} 2.0' in text


def test_serve_with_workers_prepares_a_fresh_directory(tmp_path):
    assert not multiprocess_mode()
    settings = Settings(metrics_enabled=True, data_dir=tmp_path)
    prepare_worker_processes(settings, workers=1)
    assert not multiprocess_mode()
    stale = tmp_path / "prometheus" / "counter_123.db"
    stale.parent.mkdir()
    stale.write_bytes(b"old run")
    try:
        prepare_worker_processes(settings, workers=2)
        assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(tmp_path / "prometheus")
    finally:
        os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    assert list((tmp_path / "prometheus").iterdir()) == []


def test_a_missing_multiprocess_directory_stops_start_up(tmp_path, monkeypatch):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="PROMETHEUS_MULTIPROC_DIR=.*missing is not a directory"):
        metrics.configure(Settings(metrics_enabled=True))
    metrics.configure(Settings())  # metrics off: not needed, no error
