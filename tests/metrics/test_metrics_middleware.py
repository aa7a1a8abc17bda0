"""The request middleware and the exposition, on a Starlette app assembled
the way create_app assembles it (routes, metrics route, middleware last,
port server in the lifespan)."""

from __future__ import annotations

from contextlib import asynccontextmanager

import httpx
import pytest
from support.metrics import sample
from support.server import free_port
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse
from starlette.routing import BaseRoute, Match, Route
from starlette.testclient import TestClient

from syncstorage import metrics
from syncstorage.metrics.exposition import metrics_lifespan, metrics_routes
from syncstorage.metrics.middleware import MetricsMiddleware
from syncstorage.settings import Settings

DURATION = "syncstorage_request_duration_seconds"


async def thing(request):
    return PlainTextResponse(request.path_params["thing_id"])


async def broken(request):
    raise RuntimeError("boom")


class RawPathRoute(BaseRoute):
    """What the storage API route does: it matches raw paths itself (no
    template of its own) and puts its route's template in the scope's state."""

    def matches(self, scope):
        if scope["type"] == "http" and scope["path"].startswith("/1.5/"):
            return Match.FULL, {}
        return Match.NONE, {}

    async def handle(self, scope, receive, send):
        scope.setdefault("state", {})["template"] = "/1.5/{uid}/storage/{collection}"
        await PlainTextResponse("ok", status_code=201)(scope, receive, send)


def build_app(settings: Settings) -> Starlette:
    metrics.configure(settings)

    @asynccontextmanager
    async def lifespan(app):
        with metrics_lifespan(settings):
            yield

    routes = [
        Route("/things/{thing_id}", thing),
        Route("/broken", broken),
        RawPathRoute(),
        *metrics_routes(settings),
    ]
    middleware = [Middleware(MetricsMiddleware)] if metrics.enabled() else []
    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan)


def count(route: str, method: str, status: str) -> float:
    return sample(DURATION + "_count", route=route, method=method, status=status)


def test_requests_are_counted_and_timed_by_template():
    client = TestClient(build_app(Settings(metrics_enabled=True)))
    before = count("/things/{thing_id}", "GET", "200")
    before_fast = sample(DURATION + "_bucket", route="/things/{thing_id}", method="GET", status="200", le="10.0")
    assert client.get("/things/uid-98765").text == "uid-98765"
    assert count("/things/{thing_id}", "GET", "200") == before + 1
    assert sample(DURATION + "_bucket", route="/things/{thing_id}", method="GET", status="200", le="10.0") == before_fast + 1
    assert sample(DURATION + "_sum", route="/things/{thing_id}", method="GET", status="200") > 0


def test_the_route_the_handler_names_wins():
    client = TestClient(build_app(Settings(metrics_enabled=True)))
    before = count("/1.5/{uid}/storage/{collection}", "POST", "201")
    assert client.post("/1.5/12345/storage/bookmarks").status_code == 201
    assert count("/1.5/{uid}/storage/{collection}", "POST", "201") == before + 1


def test_unknown_paths_and_methods_are_bounded():
    client = TestClient(build_app(Settings(metrics_enabled=True)))
    before = count("unmatched", "GET", "404")
    before_other = count("/things/{thing_id}", "other", "405")
    assert client.get("/no/such/path/123").status_code == 404
    assert client.request("BREW", "/things/pot").status_code == 405
    assert count("unmatched", "GET", "404") == before + 1
    assert count("/things/{thing_id}", "other", "405") == before_other + 1


def test_an_exception_is_recorded_as_500():
    client = TestClient(build_app(Settings(metrics_enabled=True)), raise_server_exceptions=False)
    before = count("/broken", "GET", "500")
    assert client.get("/broken").status_code == 500
    assert count("/broken", "GET", "500") == before + 1


def test_metrics_path_serves_the_exposition_format():
    client = TestClient(build_app(Settings(metrics_enabled=True, metrics_path="/internal/metrics")))
    client.get("/things/abc")
    response = client.get("/internal/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert 'syncstorage_request_duration_seconds_count{method="GET",route="/things/{thing_id}",status="200"}' in response.text
    assert client.get("/__metrics__").status_code == 404


def test_metrics_port_serves_them_and_the_app_does_not():
    port = free_port()
    settings = Settings(metrics_enabled=True, metrics_port=port)
    with TestClient(build_app(settings)) as client:  # runs the lifespan
        client.get("/things/abc")
        response = httpx.get(f"http://127.0.0.1:{port}/metrics")
        assert response.status_code == 200
        assert 'route="/things/{thing_id}"' in response.text
        assert client.get("/__metrics__").status_code == 404
    with pytest.raises(httpx.ConnectError):  # closed with the app
        httpx.get(f"http://127.0.0.1:{port}/metrics")


def test_off_by_default():
    settings = Settings()
    assert not settings.metrics_enabled and settings.statsd_host is None
    app = build_app(settings)
    assert not metrics.enabled()
    assert not any(m.cls is MetricsMiddleware for m in app.user_middleware)
    client = TestClient(app)
    before = count("/things/{thing_id}", "GET", "200")
    metrics_before = sample("syncstorage_write_conflicts_total")
    client.get("/things/abc")
    metrics.observe_conflict()
    metrics.observe_batch(10)
    assert count("/things/{thing_id}", "GET", "200") == before
    assert sample("syncstorage_write_conflicts_total") == metrics_before
    assert client.get("/__metrics__").status_code == 404
