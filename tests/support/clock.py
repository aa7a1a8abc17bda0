"""A clock tests move forward instead of sleeping through TTLs, batch
lifetimes and timestamp windows.

It is the wall clock plus an offset that only `advance` changes: time still
passes as it does for the server (the 10 ms tick waits of storage-model §5.3
keep working), and a jump forward is seen at once by everything given this
clock.
"""

from __future__ import annotations

import time

from syncstorage import timestamps


class AdvancingClock(timestamps.Clock):
    def __init__(self) -> None:
        self._offset_ms = 0  # whole 10 ms ticks, so now_ms stays on a tick

    def advance(self, seconds: float) -> None:
        self._offset_ms += round(seconds * 100) * 10

    def time(self) -> float:  # type: ignore[override]  # Clock's are staticmethods
        return time.time() + self._offset_ms / 1000

    def now_ms(self) -> int:  # type: ignore[override]  # Clock's are staticmethods
        return timestamps.now_ms() + self._offset_ms
