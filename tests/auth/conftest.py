"""The Redis nonce store runs against a real Redis when
SYNCSTORAGE_TEST_REDIS_URL is set (e.g. redis://127.0.0.1:6379/0); otherwise
its tests skip, or fail under SYNCSTORAGE_TEST_REQUIRE_BACKENDS=1 (as in
tests/conftest.py for the SQL backends)."""

from __future__ import annotations

import os
import uuid

import pytest
import redis


@pytest.fixture
def redis_client():
    url = os.environ.get("SYNCSTORAGE_TEST_REDIS_URL")
    required = os.environ.get("SYNCSTORAGE_TEST_REQUIRE_BACKENDS", "") not in ("", "0")
    if not url:
        reason = "Redis tests need SYNCSTORAGE_TEST_REDIS_URL (e.g. redis://127.0.0.1:6379/0)"
        if required:
            pytest.fail(f"SYNCSTORAGE_TEST_REQUIRE_BACKENDS is set but {reason}")
        pytest.skip(reason)
    client = redis.Redis.from_url(url)
    try:
        client.ping()
    except redis.RedisError as exc:
        reason = f"Redis at SYNCSTORAGE_TEST_REDIS_URL is unreachable: {exc}"
        if required:
            pytest.fail(reason)
        pytest.skip(reason)
    yield client
    client.close()


@pytest.fixture
def redis_prefix(redis_client):
    """A key prefix of this test's own; its keys are deleted afterwards."""
    prefix = f"syncstorage-test:{uuid.uuid4().hex}:"
    yield prefix
    keys = list(redis_client.scan_iter(match=prefix + "*"))
    if keys:
        redis_client.delete(*keys)
