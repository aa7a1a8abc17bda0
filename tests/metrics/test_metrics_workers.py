"""`syncstorage serve --workers 2` with metrics: whichever worker answers a
request or a scrape, the samples are those of every worker."""

from __future__ import annotations

import secrets

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from support.client import SyncClient, mint_token
from support.server import free_port, start_server

pytestmark = pytest.mark.e2e

REQUESTS = 40


def _samples(text: str) -> dict[tuple[str, frozenset], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_every_worker_is_counted(tmp_path, redis_url):
    """On the metrics port, which one worker binds (the path is served by
    whichever worker takes the request, like any route)."""
    secret = secrets.token_hex(32)
    metrics_port = free_port()
    # two workers need the shared nonce store
    settings = {"metrics_enabled": "true", "nonce_store_url": redis_url, "metrics_port": str(metrics_port)}
    server = start_server(tmp_path / "data", master_secret=secret, args=("--workers", "2"), **settings)
    uid = 4242
    client = SyncClient(server.base_url, uid, *mint_token(secret, uid, server.public_url))
    scrape_url = f"http://127.0.0.1:{metrics_port}/metrics"
    try:
        for _ in range(REQUESTS):  # fresh connections: spread over both workers
            assert httpx.get(f"{server.base_url}/__heartbeat__").status_code == 200
        assert client.post("storage/tabs", json=[{"id": "a", "payload": "x"}]).status_code == 200
        # several scrapes, likely answered by different workers, agree
        texts = [httpx.get(scrape_url).text for _ in range(4)]
    finally:
        client.close()
        server.stop()
    log = server.log()
    # both workers served requests, so both had to be summed
    assert len({line.split("[")[1].split("]")[0] for line in log.splitlines() if "Started server process" in line}) == 2, log
    heartbeat = ("syncstorage_request_duration_seconds_count", frozenset(
        {"route": "/__heartbeat__", "method": "GET", "status": "200"}.items()))
    for text in texts:
        samples = _samples(text)
        assert samples[heartbeat] == REQUESTS
        assert samples[("syncstorage_batch_records_count", frozenset({"kind": "post"}.items()))] == 1
        assert samples[("syncstorage_db_pool_size", frozenset({"pool": "storage"}.items()))] > 0
        assert str(uid) not in text
    assert (server.data_dir / "prometheus").is_dir()
    # one worker serves the port, the other one says so
    assert log.count("is served by another worker") == 1, log
