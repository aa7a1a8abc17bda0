"""Metrics of the real app: create_app on a real database, requests signed
with real Hawk credentials, the exposition read over HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import sqlalchemy as sa
from support.server import free_port
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from syncstorage.app import create_app
from syncstorage.auth import derived_secret, hawk_header, make_token
from syncstorage.settings import Settings
from syncstorage.storage.sql.migrate import upgrade
from syncstorage.timestamps import now_ms

SECRET = "metrics-tests-master-secret"
PUBLIC_URL = "http://localhost:8000"
UID = 918273645  # must never show up in a label
COLLECTION = "/1.5/{uid}/storage/{collection}"


class Server:
    """The app behind a TestClient, and a user whose requests it signs."""

    def __init__(self, settings: Settings) -> None:
        upgrade(settings.effective_database_url)  # the CLI does this before serving
        self.settings = settings
        self.http = TestClient(create_app(settings), base_url=PUBLIC_URL)
        self.token = make_token({"uid": UID, "node": PUBLIC_URL, "fxa_uid": "f" * 32, "fxa_kid": "k"}, SECRET)
        self.key = derived_secret(self.token, SECRET)

    def request(self, method: str, path: str, **kwargs) -> httpx.Response:
        url = f"{PUBLIC_URL}/1.5/{UID}{path}"
        headers = {"Authorization": hawk_header(method, url, self.token, self.key)}
        return self.http.request(method, url, headers=headers, **kwargs)

    def scrape(self) -> dict[tuple[str, frozenset], float]:
        """Every sample of the exposition: (name, labels) -> value."""
        if self.settings.metrics_port is not None:
            response = httpx.get(f"http://127.0.0.1:{self.settings.metrics_port}/metrics")
        else:
            response = self.http.get(self.settings.metrics_path)
        assert response.status_code == 200
        self.last_exposition = response.text
        return {
            (s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(response.text)
            for s in family.samples
        }


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
def start(tmp_path) -> Iterator:
    started: list[TestClient] = []

    def start(database_url: str, **overrides) -> Server:
        settings = Settings(
            master_secret=[SECRET],
            database_url=database_url,
            data_dir=tmp_path,
            public_url=overrides.pop("public_url", PUBLIC_URL),
            **overrides,
        )
        server = Server(settings)
        server.http.__enter__()  # runs the lifespan
        started.append(server.http)
        return server

    yield start
    for http in started:
        http.__exit__(None, None, None)


def test_requests_are_recorded_by_route_template_and_status(start, sqlite_url):
    server = start(sqlite_url, metrics_enabled=True)
    before = server.scrape()
    assert server.request("PUT", "/storage/tabs/abc", json={"payload": "x"}).status_code == 200
    assert server.request("GET", "/storage/tabs").status_code == 200
    assert server.request("GET", "/storage/tabs/missing").status_code == 404
    assert server.http.get("/1.5/not-a-uid/storage/tabs").status_code == 404
    assert server.http.get("/__lbheartbeat__").status_code == 200
    after = server.scrape()

    def count(route, method, status):
        name = "syncstorage_request_duration_seconds_count"
        labels = {"route": route, "method": method, "status": status}
        return value(after, name, **labels) - value(before, name, **labels)

    assert count("/1.5/{uid}/storage/{collection}/{id}", "PUT", "200") == 1
    assert count(COLLECTION, "GET", "200") == 1
    assert count("/1.5/{uid}/storage/{collection}/{id}", "GET", "404") == 1
    assert count("unmatched", "GET", "404") == 1
    assert count("/__lbheartbeat__", "GET", "200") == 1
    # the histogram: every request lands in the +Inf bucket, with a duration
    labels = {"route": COLLECTION, "method": "GET", "status": "200"}
    assert value(after, "syncstorage_request_duration_seconds_bucket", le="+Inf", **labels) >= 1
    assert value(after, "syncstorage_request_duration_seconds_sum", **labels) > 0


def test_batch_sizes_per_post_and_per_commit(start, sqlite_url):
    server = start(sqlite_url, metrics_enabled=True)
    before = server.scrape()
    records = [{"id": f"r{n}", "payload": "p"} for n in range(7)]
    created = server.request("POST", "/storage/history?batch=true", json=records[:3])
    assert created.status_code == 202, created.text
    batch = created.json()["batch"]
    committed = server.request("POST", f"/storage/history?batch={batch}&commit=true", json=records[3:])
    assert committed.status_code == 200, committed.text
    after = server.scrape()

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("syncstorage_batch_records_count", kind="post") == 2
    assert delta("syncstorage_batch_records_sum", kind="post") == 7
    assert delta("syncstorage_batch_records_count", kind="commit") == 1
    assert delta("syncstorage_batch_records_sum", kind="commit") == 7


def test_conflicts_are_counted(start, sqlite_url):
    server = start(sqlite_url, metrics_enabled=True)
    assert server.request("PUT", "/storage/col/a", json={"payload": "old"}).status_code == 200
    # another writer stamped the collection an hour ahead: every write conflicts
    engine = sa.create_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE user_collections SET last_modified = :v"), {"v": now_ms() + 3_600_000})
    engine.dispose()
    before = server.scrape()
    assert server.request("PUT", "/storage/col/a", json={"payload": "new"}).status_code == 503
    assert server.request("POST", "/storage/col", json=[{"id": "b", "payload": "new"}]).status_code == 503
    after = server.scrape()
    name = "syncstorage_write_conflicts_total"
    assert value(after, name) - value(before, name) == 2
    labels = {"route": COLLECTION, "method": "POST", "status": "503"}
    assert value(after, "syncstorage_request_duration_seconds_count", **labels) >= 1


def test_pool_gauges(start, database_url):
    server = start(database_url, metrics_enabled=True)
    assert server.request("GET", "/info/collections").status_code == 200
    samples = server.scrape()
    assert value(samples, "syncstorage_db_pool_size", pool="storage") > 0
    # the scrape itself holds no connection
    assert value(samples, "syncstorage_db_pool_checked_out", pool="storage") == 0


def test_no_uid_id_token_or_payload_in_any_label(start, sqlite_url):
    server = start(sqlite_url, metrics_enabled=True)
    secrets = ["secret-item-id", "secret-payload-text", "privatecollection", str(UID)]
    server.request("PUT", "/storage/privatecollection/secret-item-id", json={"payload": "secret-payload-text"})
    server.request("POST", "/storage/privatecollection", json=[{"id": "secret-item-id", "payload": "secret-payload-text"}])
    server.request("GET", "/storage/privatecollection?ids=secret-item-id&full=1")
    server.http.get(f"/1.5/{UID}/storage/privatecollection/secret-item-id")  # unsigned: 401
    server.scrape()
    text = server.last_exposition
    for secret in [*secrets, server.token, server.key]:
        assert secret not in text


def test_served_below_the_public_url_prefix(start, sqlite_url):
    server = start(sqlite_url, metrics_enabled=True, public_url="http://localhost:8000/sync")
    response = server.http.get("/sync/__metrics__")
    assert response.status_code == 200
    assert "syncstorage_request_duration_seconds" in response.text


def test_served_on_their_own_port_only(start, sqlite_url):
    port = free_port()
    server = start(sqlite_url, metrics_enabled=True, metrics_port=port)
    assert server.http.get("/__lbheartbeat__").status_code == 200
    samples = server.scrape()  # from the metrics port
    assert value(samples, "syncstorage_request_duration_seconds_count", route="/__lbheartbeat__", method="GET", status="200") >= 1
    assert server.http.get("/__metrics__").status_code == 404


def test_statsd_datagrams_from_real_requests(start, sqlite_url, statsd_socket):
    port, receive = statsd_socket
    server = start(sqlite_url, statsd_host="127.0.0.1", statsd_port=port)
    server.request("POST", "/storage/bookmarks", json=[{"id": "a", "payload": "p"}, {"id": "b", "payload": "q"}])
    lines = receive()
    assert "syncstorage.batch_records.post:2|ms" in lines
    request_lines = [line for line in lines if line.startswith("syncstorage.request.")]
    assert len(request_lines) == 1
    assert request_lines[0].startswith("syncstorage.request.1_5.uid.storage.collection.POST.200:")
    assert request_lines[0].endswith("|ms")
    assert str(UID) not in "".join(lines) and "bookmarks" not in "".join(lines)


def test_off_by_default(start, sqlite_url):
    server = start(sqlite_url)
    assert server.http.get("/__metrics__").status_code == 404
    # nothing recorded: read the process registry directly
    from prometheus_client import REGISTRY

    def total_requests() -> float:
        return sum(
            s.value
            for family in REGISTRY.collect()
            if family.name == "syncstorage_request_duration_seconds"
            for s in family.samples
            if s.name.endswith("_count")
        )

    before = total_requests()
    server.request("PUT", "/storage/tabs/abc", json={"payload": "x"})
    server.request("POST", "/storage/tabs", json=[{"id": "b", "payload": "x"}])
    assert total_requests() == before
    assert REGISTRY.get_sample_value("syncstorage_db_pool_size", {"pool": "storage"}) is None
