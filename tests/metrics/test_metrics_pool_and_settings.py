"""The pool collector on a real engine, the token outcome vocabulary, and
the metrics settings."""

from __future__ import annotations

import gc
import re

import pytest
import sqlalchemy as sa
from support.metrics import sample
from prometheus_client import REGISTRY
from pydantic import ValidationError

from syncstorage import metrics
from syncstorage.settings import Settings


def test_pool_gauges_read_the_pool_at_scrape_time(tmp_path):
    metrics.configure(Settings(metrics_enabled=True))
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'pool.db'}", pool_size=3)
    metrics.track_pool(engine, "test-pool")
    assert sample("syncstorage_db_pool_size", pool="test-pool") == 3
    assert sample("syncstorage_db_pool_checked_out", pool="test-pool") == 0
    with engine.connect(), engine.connect():
        assert sample("syncstorage_db_pool_checked_out", pool="test-pool") == 2
    assert sample("syncstorage_db_pool_checked_out", pool="test-pool") == 0
    engine.dispose()  # a new pool: still reported
    assert sample("syncstorage_db_pool_size", pool="test-pool") == 3
    del engine
    gc.collect()  # held weakly: a dropped engine disappears
    assert REGISTRY.get_sample_value("syncstorage_db_pool_size", {"pool": "test-pool"}) is None


def test_pool_gauges_are_absent_when_metrics_are_off(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'pool.db'}")
    metrics.track_pool(engine, "off-pool")
    assert REGISTRY.get_sample_value("syncstorage_db_pool_size", {"pool": "off-pool"}) is None


def test_token_outcomes_outside_the_vocabulary_count_as_other():
    metrics.configure(Settings(metrics_enabled=True))
    name = "syncstorage_token_verifications_total"
    before_ok = sample(name, outcome="ok")
    before_other = sample(name, outcome="other")
    metrics.observe_token_verification("ok")
    metrics.observe_token_verification("fxa-uid-0123456789abcdef")
    assert sample(name, outcome="ok") == before_ok + 1
    assert sample(name, outcome="other") == before_other + 1
    assert sample(name, outcome="fxa-uid-0123456789abcdef") == 0


def test_batch_kinds():
    metrics.configure(Settings(metrics_enabled=True))
    before = sample("syncstorage_batch_records_count", kind="commit")
    metrics.observe_batch(1000, "commit")
    assert sample("syncstorage_batch_records_count", kind="commit") == before + 1
    assert sample("syncstorage_batch_records_bucket", kind="commit", le="1000.0") >= 1
    with pytest.raises(ValueError):
        metrics.observe_batch(1, "upload")


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"metrics_port": 8000}, "metrics_port must differ from port"),
        ({"metrics_port": 0}, "greater than or equal to 1"),
        ({"metrics_path": "metrics"}, 'must be a plain path starting with "/"'),
        ({"metrics_path": "/metrics?x=1"}, 'must be a plain path starting with "/"'),
        ({"metrics_path": "/1.5/metrics"}, "may not be below /1.5/ or /1.0/"),
        ({"statsd_prefix": "a:b|c"}, "should match pattern"),
        ({"statsd_port": 70000}, "less than or equal to 65535"),
    ],
)
def test_invalid_metrics_settings(settings, message):
    with pytest.raises(ValidationError, match=re.escape(message)):
        Settings(**settings)


def test_environment_switches_metrics_on(monkeypatch):
    monkeypatch.setenv("SYNCSTORAGE_METRICS_ENABLED", "true")
    monkeypatch.setenv("SYNCSTORAGE_METRICS_PORT", "9102")
    monkeypatch.setenv("SYNCSTORAGE_STATSD_HOST", "statsd.internal")
    settings = Settings()
    assert settings.metrics_enabled and settings.metrics_port == 9102
    assert settings.statsd_host == "statsd.internal" and settings.statsd_port == 8125


@pytest.mark.parametrize(
    ("http_status", "status", "outcome"),
    [
        (401, "invalid-credentials", "invalid-credentials"),
        (401, "invalid-generation", "invalid-generation"),
        (403, "new-users-disabled", "new-users-disabled"),
        (503, "internal-error", "internal-error"),
        (503, "error", "unavailable"),  # FxA unreachable
        (401, "error", "unauthorized"),  # no or malformed Authorization
        (400, "error", "bad-request"),
        (404, "error", "not-found"),
        (418, "error", "other"),
    ],
)
def test_token_outcome_of_each_error(http_status, status, outcome):
    assert metrics.token_outcome(http_status, status) == outcome
