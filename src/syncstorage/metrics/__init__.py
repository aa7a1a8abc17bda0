"""Every metric of the server, and the calls the other layers make to record them.

Prometheus (`metrics_enabled`) and statsd (`statsd_host`) are both off by
default; `configure(settings)` (called by `create_app`) switches them for the
whole process. The `observe_*` functions are what the web layer, the storage
backend and the tokenserver call: when both sinks are off each costs one
global read and a return.

Labels only ever carry bounded, non-secret values: route TEMPLATES (never the
raw path with uids or ids), methods, statuses, outcome names. Names and
labels are documented in docs/operations.md, "Metrics".
"""

from __future__ import annotations

import os
from typing import cast

import sqlalchemy as sa
from prometheus_client import Counter, Histogram

from syncstorage.metrics import pools
from syncstorage.metrics.exposition import multiprocess_mode
from syncstorage.metrics.statsd import StatsdClient, statsd_route
from syncstorage.settings import Settings

# Down to 1 ms: the fast paths are expected to answer in a few ms (issue 6).
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
# max_post_records is 100 and max_total_records 10000 by default
BATCH_BUCKETS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)

# The `_count` series of the histogram is the request count.
REQUEST_DURATION = Histogram(
    "syncstorage_request_duration_seconds",
    "Time from receiving a request to the end of its answer, by route template, method, status.",
    ("route", "method", "status"),
    buckets=LATENCY_BUCKETS,
)
WRITE_CONFLICTS = Counter(
    "syncstorage_write_conflicts",
    "Writes answered 503 because another write held the collection (storage-api §4.3).",
)
BATCH_RECORDS = Histogram(
    "syncstorage_batch_records",
    'Records per upload: kind="post" per POST request, kind="commit" per committed batch.',
    ("kind",),
    buckets=BATCH_BUCKETS,
)
TOKEN_VERIFICATIONS = Counter(
    "syncstorage_token_verifications",
    "Tokenserver requests by outcome: ok, or the reason the credentials were refused.",
    ("outcome",),
)

# The outcomes the tokenserver reports: "ok", the specific statuses of
# auth-and-tokens §12, and names for its generic "error" status (see
# token_outcome). Anything else counts as "other": a label never takes an
# unbounded set of values.
TOKEN_OUTCOMES = frozenset(
    (
        "ok",
        "invalid-credentials",
        "invalid-key-id",
        "invalid-client-state",
        "invalid-generation",
        "invalid-keysChangedAt",
        "new-users-disabled",
        "user-not-allowed",
        "unauthorized",
        "bad-request",
        "not-found",
        "unavailable",
        "internal-error",
    )
)
# The generic `error` status of §12, told apart by its HTTP status.
_GENERIC_ERROR_OUTCOMES = {400: "bad-request", 401: "unauthorized", 404: "not-found", 503: "unavailable"}
BATCH_KINDS = frozenset(("post", "commit"))
METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"))

_prometheus = False
_statsd: StatsdClient | None = None


def configure(settings: Settings) -> None:
    """Switch the sinks on or off for this process (the last call wins)."""
    global _prometheus, _statsd
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if settings.metrics_enabled and directory is not None and not os.path.isdir(directory):
        # else every request would fail writing its samples there
        raise ValueError(f"PROMETHEUS_MULTIPROC_DIR={directory} is not a directory")
    if _statsd is not None:
        _statsd.close()
    _prometheus = settings.metrics_enabled
    _statsd = (
        StatsdClient(settings.statsd_host, settings.statsd_port, settings.statsd_prefix)
        if settings.statsd_host
        else None
    )
    _request_series.clear()


def enabled() -> bool:
    return _prometheus or _statsd is not None


def prometheus_enabled() -> bool:
    return _prometheus


# (route, method, status) -> (histogram child, statsd name), None for a sink
# that is off. The label lookup takes a lock and builds a tuple; this dict is
# one hash per request. Bounded: route templates x METHODS x statuses.
_request_series: dict[tuple[str, str, int], tuple[Histogram | None, str | None]] = {}


def observe_request(route: str, method: str, status: int, seconds: float) -> None:
    if method not in METHODS:
        method = "other"
    key = (route, method, status)
    series = _request_series.get(key)
    if series is None:
        series = _request_series[key] = (
            REQUEST_DURATION.labels(route, method, str(status)) if _prometheus else None,
            f"request.{statsd_route(route)}.{method}.{status}" if _statsd is not None else None,
        )
    histogram, statsd_name = series
    if histogram is not None:
        histogram.observe(seconds)
    if statsd_name is not None:
        # a series has a statsd name only while there is a client (configure clears them)
        cast(StatsdClient, _statsd).send(statsd_name, f"{seconds * 1000:.3f}", "ms")


def observe_conflict() -> None:
    if _prometheus:
        WRITE_CONFLICTS.inc()
    if _statsd is not None:
        _statsd.send("write_conflicts", "1", "c")


def observe_batch(records: int, kind: str = "post") -> None:
    """`records` in one POST (kind "post") or one committed batch ("commit")."""
    if kind not in BATCH_KINDS:
        raise ValueError(f"unknown batch kind {kind!r}")
    if _prometheus:
        BATCH_RECORDS.labels(kind).observe(records)
    if _statsd is not None:
        # plain statsd has no histogram type; timers are its distributions
        _statsd.send(f"batch_records.{kind}", str(records), "ms")


def token_outcome(http_status: int, status: str) -> str:
    """The outcome of a refused tokenserver request, from its §12 answer."""
    if status == "error":
        return _GENERIC_ERROR_OUTCOMES.get(http_status, "other")
    return status


def observe_token_verification(outcome: str) -> None:
    """`outcome` is "ok" or `token_outcome(...)` of the error answered."""
    if outcome not in TOKEN_OUTCOMES:
        outcome = "other"
    if _prometheus:
        TOKEN_VERIFICATIONS.labels(outcome).inc()
    if _statsd is not None:
        _statsd.send(f"token_verifications.{outcome}", "1", "c")


def track_pool(engine: sa.Engine, name: str) -> None:
    """Report `engine`'s connection pool as `pool=name` (metrics/pools.py)."""
    pools.track_pool(engine, name, count_events=multiprocess_mode() and _prometheus)


pools.register(prometheus_enabled)
