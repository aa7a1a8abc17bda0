"""Nonce stores: remember each (token, nonce) pair until its timestamp leaves
the skew window, so a captured request cannot be replayed (auth-and-tokens §3.4).

`MemoryNonceStore` serves one process. Several worker processes must share
one store (issue 6: a nonce seen by one worker is refused by every other), so
they use `RedisNonceStore`. `make_nonce_store(url)` picks one from a setting.
"""

from __future__ import annotations

import hashlib
import heapq
import math
import threading
from typing import Protocol

import redis


class NonceStoreUnavailable(Exception):
    """The shared store could not be reached; the request cannot be judged
    (the HTTP layer answers 503, never 401 or 500)."""


def nonce_key(token_id: str, nonce: str) -> str:
    """A short fixed-size key: token ids are ~300 characters."""
    # A space never occurs in a (verified) token id, so the pair is unambiguous.
    return hashlib.sha256(f"{token_id} {nonce}".encode("utf-8")).hexdigest()


class NonceStore(Protocol):
    in_process: bool  # True: add() never waits on the network

    def add(self, key: str, expires_at: float, now: float) -> bool:
        """Record `key` until `expires_at` (epoch seconds). True if it was
        new; False if already present (a replay) or no longer judgeable."""
        ...

    def ping(self) -> None:
        """Raises NonceStoreUnavailable when the store cannot be reached."""
        ...


class MemoryNonceStore:
    """Bounded in-process store, safe across threads.

    When full it evicts the entries that expire first (§3.4: early eviction
    only in timestamp order) and from then on refuses any nonce that would
    expire no later than the last evicted one: such a request could be a
    replay of an evicted entry, so it is not judgeable (its client retries
    with a fresh timestamp).
    """

    in_process = True

    def __init__(self, max_entries: int = 200_000) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be positive")
        self._max_entries = max_entries
        self._expiry: dict[str, float] = {}
        self._by_expiry: list[tuple[float, str]] = []  # heap
        self._horizon = -math.inf  # latest expiry evicted before its time
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._expiry)

    def ping(self) -> None:
        pass  # in this process: always there

    def add(self, key: str, expires_at: float, now: float) -> bool:
        with self._lock:
            self._evict_until(now)
            if expires_at <= self._horizon or key in self._expiry:
                return False
            while len(self._expiry) >= self._max_entries:
                self._horizon = max(self._horizon, self._pop_earliest())
            self._expiry[key] = expires_at
            heapq.heappush(self._by_expiry, (expires_at, key))
            return True

    def _evict_until(self, now: float) -> None:
        while self._by_expiry and self._by_expiry[0][0] <= now:
            self._pop_earliest()

    def _pop_earliest(self) -> float:
        expires_at, key = heapq.heappop(self._by_expiry)
        del self._expiry[key]
        return expires_at


class RedisNonceStore:
    """Store shared by every worker: one Redis key per nonce, created with
    SET NX (atomic: exactly one worker wins) and expiring on its own."""

    in_process = False

    def __init__(self, client: redis.Redis, prefix: str = "syncstorage:nonce:") -> None:
        self._client = client
        self._prefix = prefix

    @classmethod
    def from_url(cls, url: str, prefix: str = "syncstorage:nonce:") -> RedisNonceStore:
        return cls(redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2), prefix)

    def add(self, key: str, expires_at: float, now: float) -> bool:
        # A relative TTL, so the Redis server's clock does not matter.
        ttl_ms = max(1, math.ceil((expires_at - now) * 1000))
        try:
            return bool(self._client.set(self._prefix + key, b"1", nx=True, px=ttl_ms))
        except redis.RedisError as exc:
            raise NonceStoreUnavailable(f"nonce store unreachable: {exc}") from exc

    def ping(self) -> None:
        try:
            self._client.ping()
        except redis.RedisError as exc:
            raise NonceStoreUnavailable(f"nonce store unreachable: {exc}") from exc


def make_nonce_store(url: str | None) -> NonceStore:
    """In-memory for a single process (no URL), Redis for `redis://...`."""
    if not url:
        return MemoryNonceStore()
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisNonceStore.from_url(url)
    raise ValueError(f"unsupported nonce store URL {url!r} (expected redis://...)")
