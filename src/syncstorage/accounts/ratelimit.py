"""Rate limits for sign-in, sign-up and other guessable requests (spec §8.2).

One token bucket per key ("login:<email>", "addr:<ip>", ...), in process
memory, bounded: when `max_keys` buckets exist, the least recently used one
is dropped (a dropped bucket is full again, so flooding the table with new
keys can at most restore an attacker's own budget for old keys; the scrypt
verifier's cost and its concurrency bound remain).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limit:
    burst: int  # requests allowed at once
    per_seconds: float  # one more allowed after this many seconds


class RateLimiter:
    def __init__(self, max_keys: int = 100_000, clock: Callable[[], float] = time.monotonic) -> None:
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, at)
        self._max_keys = max_keys
        self._clock = clock
        self._lock = threading.Lock()

    def take(self, key: str, limit: Limit) -> int:
        """Spend one request of `key`'s budget: 0 when allowed, else the
        seconds to wait before the next one is."""
        now = self._clock()
        with self._lock:
            tokens, at = self._buckets.pop(key, (float(limit.burst), now))
            tokens = min(float(limit.burst), tokens + (now - at) / limit.per_seconds)
            allowed = tokens >= 1
            if allowed:
                tokens -= 1
            self._buckets[key] = (tokens, now)
            while len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)
        return 0 if allowed else max(1, math.ceil((1 - tokens) * limit.per_seconds))
