"""The operators' work on the storage tables: purge (storage-model §8) and
its record, the stats of `syncstorage stats`, one user's collections and the
deletion of their data, so the commands and the admin page hold no SQL.

A mixin of `SQLStorage`: both run in its short transactions
(`SQLStorage.transaction`), never in a client's session.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa

from ... import timestamps
from .schema import BATCH_LIFETIME_MS, TOMBSTONE_COLLECTION

if TYPE_CHECKING:
    from ...db import Dialect
    from .schema import StorageTables
    from .backend import SQLSession

KEPT_PURGE_RUNS = 100  # rows of purge_runs kept: the newest


@dataclass(frozen=True, slots=True)
class PurgeResult:
    expired_items: int
    stale_batches: int
    stale_batch_items: int
    incomplete: bool  # a loop hit max_loops: run again to finish


@dataclass(frozen=True, slots=True)
class UserCollection:
    name: str
    items: int  # live
    bytes: int  # live payload bytes
    last_modified: int  # ms


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

        def session(
            self, userid: int, collection: str | None = None, *, write: bool = False, fxa_uid: str | None = None
        ) -> AbstractContextManager[SQLSession]: ...

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

    # --- the record of purges (the admin page's Operations) ---
    def record_purge(self, started_at: int, totals: tuple[int, int, int], source: str) -> None:
        """Keep what one purge removed: (expired items, stale batches, staged
        batch items), from `started_at` (ms) to now. Only the newest
        KEPT_PURGE_RUNS records stay."""
        runs = self.tables.purge_runs
        with self.transaction(write=True) as conn:
            conn.execute(
                sa.insert(runs).values(
                    started_at=started_at, finished_at=self.clock.now_ms(), expired_items=totals[0],
                    stale_batches=totals[1], stale_batch_items=totals[2], source=source,
                )
            )
            oldest_kept = conn.execute(
                sa.select(runs.c.id).order_by(runs.c.id.desc()).offset(KEPT_PURGE_RUNS - 1).limit(1)
            ).scalar()
            if oldest_kept is not None:
                conn.execute(sa.delete(runs).where(runs.c.id < oldest_kept))

    def purge_runs(self, limit: int = 10) -> Sequence[sa.Row]:
        """The newest recorded purges, newest first."""
        runs = self.tables.purge_runs
        with self.transaction(write=False) as conn:
            return conn.execute(sa.select(runs).order_by(runs.c.id.desc()).limit(limit)).all()

    # --- one user's data (`user show` / `user delete`, the admin's Users) ---
    def user_collections(self, uid: int) -> list[UserCollection]:
        """Each collection of the user, by name, with its live items and bytes."""
        with self.session(uid) as session:
            timestamps = session.collection_timestamps()
            counts = session.collection_counts()
            sizes = session.collection_sizes()
        return [
            UserCollection(name, counts.get(name, 0), sizes.get(name, 0), modified)
            for name, modified in sorted(timestamps.items())
        ]

    def delete_user_data(self, uid: int) -> None:
        """Delete all the user's data, as the client's DELETE /1.5/{uid} does
        (storage-api §4.4)."""
        with self.session(uid, write=True) as session:
            session.delete_storage()

    def last_syncs(self, uids: Iterable[int]) -> dict[int, int]:
        """The newest write (ms) of each of these users that has data: the
        max of their user_collections rows, read by primary key."""
        uc = self.tables.user_collections
        wanted = list(uids)
        if not wanted:
            return {}
        with self.transaction(write=False) as conn:
            rows = conn.execute(
                sa.select(uc.c.userid, sa.func.max(uc.c.last_modified))
                .where(uc.c.userid.in_(wanted))
                .group_by(uc.c.userid)
            ).all()
        return {int(uid): int(modified) for uid, modified in rows}
