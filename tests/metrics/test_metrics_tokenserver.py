"""Tokenserver metrics: every answer of `GET /1.0/sync/1.5` counted by
outcome, its route template and pool, on the real app and the mock FxA."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from support.server import free_port
from syncstorage.app import create_app
from syncstorage.settings import Settings
from syncstorage.storage.sql.migrate import upgrade
from syncstorage.tokenserver import admin
from syncstorage.tokenserver.db import make_engine

FXA_UID = "0123456789abcdef0123456789abcdef"
PUBLIC_URL = "http://127.0.0.1:8000"
OUTCOMES = "syncstorage_token_verifications_total"


@pytest.fixture
def start(tmp_path, sqlite_url):
    started = []

    def start(fxa_url: str) -> TestClient:
        upgrade(sqlite_url)
        settings = Settings(
            public_url=PUBLIC_URL,
            database_url=sqlite_url,
            data_dir=tmp_path,
            master_secret=["metrics-tokenserver-secret"],
            fxa_oauth_server_url=fxa_url,
            metrics_enabled=True,
        )
        client = TestClient(create_app(settings), base_url=PUBLIC_URL)
        client.__enter__()  # lifespan: registers public_url as a node
        started.append(client)
        return client

    yield start
    for client in started:
        client.__exit__(None, None, None)


def scrape(client: TestClient) -> tuple[dict, str]:
    text = client.get("/__metrics__").text
    samples = {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    return samples, text


def outcome(samples: dict, name: str) -> float:
    return samples.get((OUTCOMES, frozenset({"outcome": name}.items())), 0.0)


def token_request(client: TestClient, bearer: str | None, key_id: str = "1234-qqo"):
    headers = {"X-KeyID": key_id}
    if bearer is not None:
        headers["Authorization"] = f"Bearer {bearer}"
    return client.get("/1.0/sync/1.5", headers=headers)


def test_each_outcome_is_counted(start, fxa):
    client = start(fxa.url)
    before, _ = scrape(client)
    good = fxa.access_token(FXA_UID, generation=1234)
    assert token_request(client, good).status_code == 200
    assert token_request(client, good).status_code == 200
    assert token_request(client, "not-a-token").status_code == 401  # invalid-credentials
    assert token_request(client, None).status_code == 401  # no Authorization
    older = fxa.access_token(FXA_UID, generation=1000)
    assert token_request(client, older, key_id="1000-qqo").status_code == 401  # invalid-generation
    assert client.get("/1.0/sync/1.1").status_code == 404
    after, text = scrape(client)
    for name, expected in [
        ("ok", 2),
        ("invalid-credentials", 1),
        ("unauthorized", 1),
        ("invalid-generation", 1),
        ("not-found", 1),
    ]:
        assert outcome(after, name) - outcome(before, name) == expected, name
    route = {"route": "/1.0/{application}/{version}", "method": "GET", "status": "200"}
    assert after[("syncstorage_request_duration_seconds_count", frozenset(route.items()))] >= 2
    assert after[("syncstorage_db_pool_size", frozenset({"pool": "tokenserver"}.items()))] > 0
    for secret in (FXA_UID, good, "1234-qqo", "not-a-token"):
        assert secret not in text


def test_accounts_server_down_is_unavailable(start):
    client = start(f"http://127.0.0.1:{free_port()}")
    before, _ = scrape(client)
    response = token_request(client, "a.b.c")
    assert response.status_code == 503
    after, _ = scrape(client)
    assert outcome(after, "unavailable") - outcome(before, "unavailable") == 1
