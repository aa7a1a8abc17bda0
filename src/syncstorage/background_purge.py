"""Purge inside `serve` (issue 5 item 3): off unless `purge_interval` > 0.

Every `purge_interval` seconds the server deletes expired items and stale
batches with `SQLStorage.purge`, one bounded pass at a time (at most 1000
rows per table, each its own short transaction, storage-model §8), in a
worker thread so requests never wait for it, until a pass finds nothing
more. Shutting down waits for the current pass only.

Several workers or servers on one database: only one purges at a time. Each
run first takes the database's one-process lock (`Dialect.try_lock`): on
PostgreSQL and MySQL/MariaDB a lease row with an expiry, which holds across
the nodes of a Galera cluster (db/leases.py), and for SQLite (one machine)
an flock on a file next to the database. A worker that finds it taken skips
that round. A worker that dies while purging leaves its lease for at most
LEASE_SECONDS; the flock goes with the process.
(Purging from every worker would also be correct, since bounded deletes of
expired rows are idempotent, but N workers would scan the same rows N times.)
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial

import anyio.to_thread

from syncstorage.db import HeldLock
from syncstorage.logs import one_line
from syncstorage.storage import ConflictError, UnavailableError
from syncstorage.storage.sql import SQLStorage

log = logging.getLogger("syncstorage.purge")

LOCK_NAME = "purge"  # `Dialect.try_lock`: a syncstorage_leases row, <database>.purge-lock
# How long a purger's lease lasts: beyond any run (bounded passes of 1000
# rows), so that a live purger keeps it, short enough that the purge goes on
# soon after a purger died.
LEASE_SECONDS = 600.0


class PurgeLock:
    """A lock on one database that at most one process holds (see above).
    `acquire` never waits: it says whether this process got it."""

    def __init__(self, storage: SQLStorage):
        self.storage = storage
        self._held: HeldLock | None = None

    def acquire(self) -> bool:
        self._held = self.storage.dialect.try_lock(self.storage.engine, LOCK_NAME, LEASE_SECONDS)
        return self._held is not None

    def release(self) -> None:
        """Give the lock back if held (a no-op otherwise)."""
        held, self._held = self._held, None
        if held is not None:
            held.release()


class BackgroundPurge:
    def __init__(self, storage: SQLStorage, interval: float):
        self.storage = storage
        self.interval = interval
        self.lock = PurgeLock(storage)
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        log.info("background purge every %s s", self.interval)
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.run_once()
            except (ConflictError, UnavailableError) as exc:  # the database is away or busy
                log.warning("%s; trying again in %s s", one_line("background purge failed", exc), self.interval)
            except Exception:
                log.exception("background purge failed; trying again in %s s", self.interval)

    async def run_once(self, source: str = "background") -> tuple[int, int, int] | None:
        """Purge until done, if no other process is purging, and record it
        (`source`: who asked, e.g. "admin" for the admin page's button).
        Returns the (expired items, stale batches, staged batch items)
        deleted, or None when another process holds the lock."""
        # threads are not cancellable: a shutdown waits for the current pass
        expired = batches = batch_items = 0
        started_at = self.storage.clock.now_ms()
        try:
            if not await anyio.to_thread.run_sync(self.lock.acquire):
                log.debug("another process is purging; skipped")
                return None
            while True:
                result = await anyio.to_thread.run_sync(partial(self.storage.purge, max_loops=1))
                expired += result.expired_items
                batches += result.stale_batches
                batch_items += result.stale_batch_items
                if not result.incomplete:
                    break
        finally:
            # Also when a shutdown cancelled us just after the lock was taken.
            # In the event loop, not a thread, so a cancellation cannot skip
            # it: a file close or one statement on the open connection.
            self.lock.release()
        deleted = (expired, batches, batch_items)
        if any(deleted):
            log.info("%s purge deleted %d expired items, %d stale batches, %d staged batch items", source, *deleted)
        await anyio.to_thread.run_sync(self.storage.record_purge, started_at, deleted, source)
        return deleted
