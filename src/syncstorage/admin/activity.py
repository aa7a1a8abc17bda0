"""Activity: requests and syncs per hour, and stored bytes per day.

What is counted, and why this way (the data "the server keeps cheaply"):
- requests: every HTTP request this process answers, counted in memory
  by `ActivityCounter` (through an ASGI layer: a dict increment per request);
- syncs: the `GET .../info/collections` among them, the request Firefox
  starts every sync with (storage-api §4.1);
- both are added to one row per hour of `admin_activity_hours` every
  FLUSH_SECONDS and at shutdown (UPDATE ... + n, or INSERT), so several
  workers or servers on one database add up and a restart loses at most
  the last minute. Counting runs only while the admin page is on.
- storage: once a day, at the first flush of the day, the users with data,
  live items and bytes (`SQLStorage.stats`, one aggregate scan of the
  storage tables, in a worker thread) go into `admin_storage_days`.
Rows older than KEPT_DAYS are deleted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter

import anyio.to_thread
import sqlalchemy as sa
from starlette.types import ASGIApp, Receive, Scope, Send

from syncstorage.admin.schema import activity_hours, storage_days
from syncstorage.logs import one_line
from syncstorage.storage import ConflictError, UnavailableError
from syncstorage.storage.sql import SQLStorage
from syncstorage.timestamps import Clock

log = logging.getLogger("syncstorage.admin")

FLUSH_SECONDS = 60
KEPT_DAYS = 90
HOUR_MS, DAY_MS = 3600 * 1000, 86400 * 1000


class CountingMiddleware:
    """The ASGI layer that counts every request into `counter`."""

    def __init__(self, app: ASGIApp, counter: ActivityCounter) -> None:
        self.app = app
        self.counter = counter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.counter.count(scope["method"], scope["path"])
        await self.app(scope, receive, send)


class ActivityCounter:
    """The counts of this process, their flush, and the rows read back."""

    def __init__(self, storage: SQLStorage, clock: Clock) -> None:
        self.storage = storage
        self.clock = clock
        self.requests: Counter[int] = Counter()  # hour -> requests not flushed yet
        self.syncs: Counter[int] = Counter()
        self._task: asyncio.Task | None = None
        self._flushing = asyncio.Lock()

    def count(self, method: str, path: str) -> None:
        hour = self.clock.now_ms() // HOUR_MS
        self.requests[hour] += 1
        if method == "GET" and path.endswith("/info/collections"):
            self.syncs[hour] += 1

    # --- persisting ---
    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        """Stop flushing every minute, then flush what is left."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._flush_logged()

    async def _loop(self) -> None:
        await self._flush_logged()  # today's storage row as soon as the page is on
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            await self._flush_logged()

    async def _flush_logged(self) -> None:
        try:
            await self.flush()
        except (ConflictError, UnavailableError, sa.exc.SQLAlchemyError) as exc:
            # the counts stay in memory and go with the next flush
            log.warning("%s; trying again in %s s", one_line("admin activity not saved", exc), FLUSH_SECONDS)

    async def flush(self) -> None:
        """Add the counts so far to the database (one flush at a time), and
        take today's storage totals if no process has yet."""
        async with self._flushing:
            requests, syncs = self.requests, self.syncs
            self.requests, self.syncs = Counter(), Counter()
            try:
                await anyio.to_thread.run_sync(self._save, requests, syncs)
            except BaseException:
                self.requests.update(requests)  # kept for the next flush
                self.syncs.update(syncs)
                raise
            await anyio.to_thread.run_sync(self._storage_totals)

    def _save(self, requests: Counter[int], syncs: Counter[int]) -> None:
        if not requests:
            return
        now_ms = self.clock.now_ms()
        with self.storage.transaction(write=True) as conn:
            for hour, count in sorted(requests.items()):
                added = conn.execute(
                    sa.update(activity_hours)
                    .where(activity_hours.c.hour == hour)
                    .values(requests=activity_hours.c.requests + count, syncs=activity_hours.c.syncs + syncs[hour])
                ).rowcount
                if not added:
                    conn.execute(sa.insert(activity_hours).values(hour=hour, requests=count, syncs=syncs[hour]))
            conn.execute(sa.delete(activity_hours).where(activity_hours.c.hour < (now_ms - KEPT_DAYS * DAY_MS) // HOUR_MS))

    def _storage_totals(self) -> None:
        day = self.clock.now_ms() // DAY_MS
        with self.storage.transaction(write=False) as conn:
            if conn.execute(sa.select(storage_days.c.day).where(storage_days.c.day == day)).first():
                return
        by_collection, users, _expired, _last = self.storage.stats()
        items = sum(s.items for s in by_collection.values())
        size = sum(s.bytes for s in by_collection.values())
        with self.storage.transaction(write=True) as conn:
            if conn.execute(sa.select(storage_days.c.day).where(storage_days.c.day == day)).first():
                return  # another process took it meanwhile
            conn.execute(sa.insert(storage_days).values(day=day, users=users, items=items, bytes=size))
            conn.execute(sa.delete(storage_days).where(storage_days.c.day < day - KEPT_DAYS))

    # --- reading ---
    def hours(self, count: int) -> tuple[int, list[int], list[int]]:
        """(first hour, requests, syncs) for the last `count` hours, oldest
        first, this hour included."""
        last = self.clock.now_ms() // HOUR_MS
        first = last - count + 1
        with self.storage.transaction(write=False) as conn:
            rows = conn.execute(
                sa.select(activity_hours).where(activity_hours.c.hour >= first)
            ).all()
        requests, syncs = [0] * count, [0] * count
        for row in rows:
            if row.hour <= last:
                requests[row.hour - first] = row.requests
                syncs[row.hour - first] = row.syncs
        return first, requests, syncs

    def days(self, count: int) -> tuple[int, list[sa.Row]]:
        """(first day, the storage rows of the last `count` days, oldest first)."""
        first = self.clock.now_ms() // DAY_MS - count + 1
        with self.storage.transaction(write=False) as conn:
            rows = conn.execute(
                sa.select(storage_days).where(storage_days.c.day >= first).order_by(storage_days.c.day)
            ).all()
        return first, list(rows)
