"""Where Prometheus reads the metrics: a route of the app (`metrics_path`) or
a port of its own (`metrics_port`), never both.

Several worker processes: prometheus-client's multiprocess mode, switched on
by the PROMETHEUS_MULTIPROC_DIR environment variable (an empty directory,
set before the server starts). Every worker then writes its samples to files
there and whichever worker answers a scrape sums them all (the pool gauges
then come from metrics/pools.py's events, not its collector).
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest, start_http_server
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import CollectorRegistry
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from syncstorage.settings import Settings

log = logging.getLogger(__name__)


def multiprocess_mode() -> bool:
    return "PROMETHEUS_MULTIPROC_DIR" in os.environ


def prepare_worker_processes(settings: Settings, workers: int) -> None:
    """Call before starting several worker processes: unless the operator
    chose a PROMETHEUS_MULTIPROC_DIR, use a fresh <data_dir>/prometheus
    (samples of an earlier run would be summed with this one's). The workers
    inherit the variable and start in multiprocess mode."""
    if workers <= 1 or not settings.metrics_enabled or multiprocess_mode():
        return
    directory = settings.data_dir / "prometheus"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory.resolve())


@cache
def exposition_registry() -> CollectorRegistry:
    if not multiprocess_mode():
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # reads the directory at every scrape
    return registry


def metrics_routes(settings: Settings) -> list[Route]:
    """The metrics route, when the app itself serves them."""
    if not settings.metrics_enabled or settings.metrics_port is not None:
        return []

    async def scrape(request: Request) -> Response:
        # generate_latest reads files in multiprocess mode: not on the loop
        body = await run_in_threadpool(generate_latest, exposition_registry())
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return [Route(settings.metrics_path, scrape, methods=["GET"])]


@contextmanager
def metrics_lifespan(settings: Settings) -> Iterator[None]:
    """For the app's lifespan: serves `metrics_port` while the app runs and,
    in multiprocess mode, removes this worker's live gauges when it stops."""
    try:
        with _port_server(settings):
            yield
    finally:
        if multiprocess_mode():
            mark_process_dead(os.getpid())


@contextmanager
def _port_server(settings: Settings) -> Iterator[None]:
    if not settings.metrics_enabled or settings.metrics_port is None:
        yield
        return
    try:
        server, thread = start_http_server(
            settings.metrics_port, addr=settings.host, registry=exposition_registry()
        )
    except OSError as exc:
        # Several workers in multiprocess mode: one of them serves the port
        # and its answer covers every worker, so the others carry on.
        if exc.errno != errno.EADDRINUSE or not multiprocess_mode():
            raise
        log.info("metrics port %d is served by another worker", settings.metrics_port)
        yield
        return
    log.info("metrics on http://%s:%d/metrics", settings.host, settings.metrics_port)
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
