"""Nonce stores (auth-and-tokens §3.4): replay refused, entries kept until
ts + window, bounded memory evicting in timestamp order, Redis shared by workers."""

from __future__ import annotations

import os
import threading
import time

import pytest
from starlette.datastructures import Headers

from syncstorage.auth import (
    AuthError,
    HawkAuthenticator,
    MemoryNonceStore,
    NonceStoreUnavailable,
    RedisNonceStore,
    hawk_header,
    make_nonce_store,
)
from syncstorage.auth.nonces import nonce_key
from syncstorage.auth.tokens import derived_secret, make_token

NOW = 1_700_000_000.0


def test_memory_store_refuses_replay_until_expiry():
    store = MemoryNonceStore()
    assert store.add("k", NOW + 60, NOW)
    assert not store.add("k", NOW + 60, NOW + 59)
    assert store.add("other", NOW + 60, NOW)
    # Once expired the entry is dropped (its ts is out of the window anyway).
    assert store.add("k", NOW + 200, NOW + 60)
    assert len(store) == 1


def test_memory_store_evicts_earliest_expiry_when_full():
    store = MemoryNonceStore(max_entries=3)
    assert store.add("late", NOW + 90, NOW)
    assert store.add("early", NOW + 10, NOW)
    assert store.add("middle", NOW + 50, NOW)
    assert store.add("new", NOW + 70, NOW)  # evicts "early", not the oldest inserted
    assert len(store) == 3
    assert not store.add("late", NOW + 90, NOW)
    assert not store.add("middle", NOW + 50, NOW)
    # "early" was evicted before its time: anything expiring by then is no
    # longer judgeable, so it is refused rather than risk accepting a replay.
    assert not store.add("early", NOW + 10, NOW)
    assert not store.add("fresh-but-old", NOW + 5, NOW)


def test_memory_store_is_thread_safe():
    store = MemoryNonceStore()
    wins = []

    def contender():
        wins.append(store.add("same", NOW + 60, NOW))

    threads = [threading.Thread(target=contender) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wins.count(True) == 1


def test_nonce_key_separates_token_and_nonce():
    assert nonce_key("ab", "c") != nonce_key("a", "bc")
    assert nonce_key("t", "n") == nonce_key("t", "n")


def test_make_nonce_store():
    assert isinstance(make_nonce_store(None), MemoryNonceStore)
    assert isinstance(make_nonce_store("redis://127.0.0.1:6379/0"), RedisNonceStore)
    with pytest.raises(ValueError, match="unsupported nonce store URL"):
        make_nonce_store("memcached://x")


def test_redis_store_refuses_replay_and_expires(redis_client, redis_prefix):
    store = RedisNonceStore(redis_client, prefix=redis_prefix)
    now = time.time()
    assert store.add("k", now + 60, now)
    assert not store.add("k", now + 60, now)
    ttl = redis_client.pttl(redis_prefix + "k")
    assert 58_000 < ttl <= 60_000
    assert store.add("short", now + 0.2, now)
    time.sleep(0.4)
    assert store.add("short", now + 60, now)


def test_two_redis_stores_share_replay_detection(redis_client, redis_prefix):
    """Two worker processes = two authenticators with their own connections."""
    url = os.environ["SYNCSTORAGE_TEST_REDIS_URL"]
    workers = [
        HawkAuthenticator(
            secrets=["s"], public_url="http://localhost:8000",
            nonce_store=RedisNonceStore.from_url(url, prefix=redis_prefix),
        )
        for _ in range(2)
    ]
    token = make_token({"uid": 3, "node": "http://localhost:8000"}, "s")
    header = hawk_header("GET", "http://localhost:8000/1.5/3/info/collections", token, derived_secret(token, "s"))

    def send(worker):
        return worker.authenticate(
            method="GET", path="/1.5/3/info/collections", query_string="",
            headers=Headers({"host": "localhost:8000", "authorization": header}),
            scheme="http", path_uid=3,
        )

    assert send(workers[0]).uid == 3
    with pytest.raises(AuthError, match="replayed nonce"):
        send(workers[1])


def test_unreachable_redis_is_reported_not_refused():
    store = RedisNonceStore.from_url("redis://127.0.0.1:1/0")
    with pytest.raises(NonceStoreUnavailable):
        store.add("k", NOW + 60, NOW)
