"""Database pool gauges: `syncstorage_db_pool_size` and
`syncstorage_db_pool_checked_out`, labelled `pool` ("storage", "tokenserver").

One process: a collector reads the pools when Prometheus scrapes, so
requests pay nothing. Several workers (multiprocess mode) cannot work that
way, since the worker answering a scrape sees only its own pool; there each
worker counts its checkouts with SQLAlchemy pool events into gauges that
prometheus-client sums over the live workers.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable
from typing import TypeGuard

import sqlalchemy as sa
from prometheus_client import REGISTRY, Gauge
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector


SIZE = ("syncstorage_db_pool_size", "Connections the pool keeps open (its configured size).")
CHECKED_OUT = (
    "syncstorage_db_pool_checked_out",
    "Connections in use by requests right now (above size when the pool overflows).",
)

_engines: dict[str, weakref.ref] = {}


def track_pool(engine: sa.Engine, name: str, *, count_events: bool) -> None:
    """Report `engine`'s connection pool as `pool=name` (through pool
    events when `count_events`: multiprocess mode). Held weakly; the
    collector reads `engine.pool` each time since `engine.dispose()`
    replaces it."""
    _engines[name] = weakref.ref(engine)
    if count_events:
        _count_with_events(engine, name)


def _sized(pool: object) -> TypeGuard[sa.pool.QueuePool]:
    # QueuePool (every file or server database) has a size; the others
    # (e.g. StaticPool for in-memory SQLite) do not.
    return hasattr(pool, "checkedout") and hasattr(pool, "size")


class _PoolCollector(Collector):
    def __init__(self, enabled: Callable[[], bool]) -> None:
        self.enabled = enabled  # read at each scrape: `metrics.configure` may switch it

    def collect(self) -> Iterable[GaugeMetricFamily]:
        size, checked_out = self.describe()
        if self.enabled():
            for name, ref in list(_engines.items()):
                pool = getattr(ref(), "pool", None)
                if _sized(pool):
                    size.add_metric([name], pool.size())
                    checked_out.add_metric([name], pool.checkedout())
        return [size, checked_out]

    def describe(self) -> list[GaugeMetricFamily]:
        return [GaugeMetricFamily(*SIZE, labels=["pool"]), GaugeMetricFamily(*CHECKED_OUT, labels=["pool"])]


# --- multiprocess mode ---
# registry=None: in this mode only the files count (MultiProcessCollector
# reads them), and the names are the collector's in the process registry.
_size_gauge = Gauge(*SIZE, ["pool"], registry=None, multiprocess_mode="livesum")
_checked_out_gauge = Gauge(*CHECKED_OUT, ["pool"], registry=None, multiprocess_mode="livesum")


def _count_with_events(engine: sa.Engine, name: str) -> None:
    if _sized(engine.pool):
        _size_gauge.labels(name).set(engine.pool.size())
    checked_out = _checked_out_gauge.labels(name)
    sa.event.listen(engine, "checkout", lambda *_: checked_out.inc())
    sa.event.listen(engine, "checkin", lambda *_: checked_out.dec())


def register(enabled: Callable[[], bool]) -> None:
    """Report the tracked pools in the process registry while `enabled()`."""
    REGISTRY.register(_PoolCollector(enabled))
