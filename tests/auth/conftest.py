"""The Redis nonce store runs against a real Redis: `redis_url` (in
tests/conftest.py) skips these tests without SYNCSTORAGE_TEST_REDIS_URL, or
fails them under SYNCSTORAGE_TEST_REQUIRE_BACKENDS=1."""

from __future__ import annotations

import uuid

import pytest
import redis


@pytest.fixture
def redis_client(redis_url):
    client = redis.Redis.from_url(redis_url)
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
