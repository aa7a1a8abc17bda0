"""The operators' work on the storage tables: purge (storage-model §8) and
the stats of `syncstorage stats`, so the commands hold no SQL.

A mixin of `SQLStorage`: both run in its short transactions
(`SQLStorage.transaction`), never in a client's session.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa

from ... import timestamps
from .schema import BATCH_LIFETIME_MS, TOMBSTONE_COLLECTION

if TYPE_CHECKING:
    from ...db import Dialect
    from .schema import StorageTables


@dataclass(frozen=True, slots=True)
class PurgeResult:
    expired_items: int
    stale_batches: int
    stale_batch_items: int
    incomplete: bool  # a loop hit max_loops: run again to finish


@dataclass
class CollectionStats:
    users: int = 0
    items: int = 0
    bytes: int = 0
    last_modified: int = 0


class Maintenance:
    """Purge and stats, on the tables and transactions of `SQLStorage`."""

    if TYPE_CHECKING:
        tables: StorageTables
        dialect: Dialect
        clock: timestamps.Clock

        def transaction(self, *, write: bool) -> AbstractContextManager[sa.Connection]: ...

    def purge(
        self,
        grace: int = 86400,
        max_per_loop: int = 1000,
        max_loops: int = 100,
        dry_run: bool = False,
    ) -> PurgeResult:
        """Delete expired BSOs and stale batches in bounded, short
        transactions (storage-model §8)."""
        now_s = self.clock.now_ms() // 1000
        item_cutoff = now_s - grace
        batch_cutoff = (now_s - BATCH_LIFETIME_MS // 1000 - grace) * 1000
        incomplete = False

        def run(tables, where) -> int:
            nonlocal incomplete
            total = 0
            for table in tables:
                count, cut_short = self._purge_table(
                    table, where(table), max_per_loop, max_loops, dry_run
                )
                total += count
                incomplete = incomplete or cut_short
            return total

        expired = run(self.tables.bso_tables, lambda t: t.c.ttl < item_cutoff)
        batches = run([self.tables.batch_uploads], lambda t: t.c.batch < batch_cutoff)
        items = run(self.tables.item_tables, lambda t: t.c.batch < batch_cutoff)
        return PurgeResult(expired, batches, items, incomplete)

    def _purge_table(self, table, where, max_per_loop, max_loops, dry_run) -> tuple[int, bool]:
        if dry_run:
            with self.transaction(write=False) as conn:
                count = sa.select(sa.func.count()).select_from(table).where(where)
                return conn.execute(count).scalar_one(), False
        total = 0
        for _ in range(max_loops):
            with self.transaction(write=True) as conn:
                deleted = conn.execute(
                    self.dialect.bounded_delete(table, where, max_per_loop)
                ).rowcount
            total += deleted
            if deleted < max_per_loop:
                return total, False
        return total, True

    def stats(self) -> tuple[dict[str, CollectionStats], int, int, int]:
        """(stats by collection name, users with data, expired items, last activity ms)."""
        tables, now_s = self.tables, self.clock.now_ms() // 1000
        uc = tables.user_collections
        by_id: dict[int, CollectionStats] = {}
        expired = 0
        with self.transaction(write=False) as conn:
            names: dict[int, str] = dict(conn.execute(sa.select(tables.collections.c.collectionid, tables.collections.c.name)).all())
            for row in conn.execute(
                sa.select(uc.c.collection, sa.func.count(), sa.func.max(uc.c.last_modified))
                .where(uc.c.collection != TOMBSTONE_COLLECTION)
                .group_by(uc.c.collection)
            ):
                by_id[row[0]] = CollectionStats(users=row[1], last_modified=row[2])
            users = conn.execute(
                sa.select(sa.func.count(sa.distinct(uc.c.userid))).where(uc.c.collection != TOMBSTONE_COLLECTION)
            ).scalar_one()
            last_activity = conn.execute(sa.select(sa.func.max(uc.c.last_modified))).scalar() or 0
        for bso in tables.bso_tables:  # one table, or one per shard (storage-model §3.6)
            with self.transaction(write=False) as conn:
                live = bso.c.ttl > now_s
                for collection, items, size in conn.execute(
                    sa.select(bso.c.collection, sa.func.count(), sa.func.sum(bso.c.payload_size))
                    .where(live)
                    .group_by(bso.c.collection)
                ):
                    stats = by_id.setdefault(collection, CollectionStats())
                    stats.items += items
                    stats.bytes += int(size or 0)  # some drivers give Decimal
                expired += conn.execute(sa.select(sa.func.count()).select_from(bso).where(~live)).scalar_one()
        by_name = {names.get(cid, f"#{cid}"): stats for cid, stats in by_id.items()}
        return by_name, users, expired, last_activity
