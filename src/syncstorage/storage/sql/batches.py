"""The batches of a storage session (storage-model §7): create, check,
stage, commit."""

from __future__ import annotations

import sqlalchemy as sa

from ... import metrics
from .. import BSOUpdate, ConflictError
from .schema import BATCH_LIFETIME_MS, BSO_KEY, MAX_TTL
from .writes import Writes, _supplied_columns, _utf8_size

ITEM_KEY = ("batch", "userid", "id")
BATCH_ID_ATTEMPTS = 5  # storage-model §7.1


class Batches(Writes):
    # --- batches (storage-model §7) ---
    def create_batch(self) -> int:
        self._require_write()
        bu = self.tables.batch_uploads
        first = self.now + self.userid % 10
        for batch in range(first, first + BATCH_ID_ATTEMPTS):
            inserted = self.conn.execute(
                self.dialect.insert_ignore(bu).values(
                    batch=batch, userid=self.userid, collection=self.collection_id
                )
            ).rowcount
            if inserted:
                return batch
        raise ConflictError("no free batch id")

    def batch_exists(self, batch: int) -> bool:
        self._require_write()
        if not 0 <= batch < 2**63 or batch + BATCH_LIFETIME_MS < self.now:
            return False
        bu = self.tables.batch_uploads
        query = sa.select(sa.literal(1)).where(
            bu.c.batch == batch, bu.c.userid == self.userid, bu.c.collection == self.collection_id
        )
        return self.conn.execute(query).first() is not None

    def append_to_batch(self, batch: int, items: list[BSOUpdate]) -> None:
        self._require_write()

        def staged_row(item: BSOUpdate) -> dict:
            # NULL = not supplied; the commit merges with COALESCE (§7.3)
            return {
                "batch": batch,
                "userid": self.userid,
                "id": item.id,
                "sortindex": item.sortindex,
                "payload": item.payload,
                "payload_size": _utf8_size(item.payload) if item.payload is not None else None,
                "ttl_offset": item.ttl,
            }

        # storage-model §7.2: a later staging overwrites only what it supplies
        self._upsert_by_shape(
            self.tables.items_for(batch),
            ITEM_KEY,
            items,
            staged_row,
            lambda *shape: _supplied_columns(*shape, ttl_column="ttl_offset"),
        )

    def commit_items(self, items: list[BSOUpdate]) -> int:
        """A batch opened and committed by one POST (`?batch=true&commit=true`,
        13 % of the steady mix): the commit's merge (storage-model §7.3)
        applied to `items` directly. It leaves the same rows as staging
        them and committing: supplied fields replace the stored ones, the
        rest are kept (new rows get the defaults), the TTL counts from now,
        and every row gets modified = now (a ttl-only item too, unlike a
        plain POST). Staging cost five statements more, one of them built
        per call (profiled: a small POST 2-3 times an `info/collections`)."""
        self._require_write()

        def changed(payload: bool, sortindex: bool, ttl: bool) -> list[str]:
            return [*_supplied_columns(payload, sortindex, ttl, ttl_column="ttl"), "modified"]

        unique = self._upsert_by_shape(self.bso, BSO_KEY, items, self._bso_row, changed)
        self._touch()
        metrics.observe_batch(unique, "commit")
        return self.now

    def staged_size(self, batch: int) -> int:
        items = self.tables.items_for(batch)
        query = sa.select(sa.func.sum(items.c.payload_size)).where(
            items.c.batch == batch, items.c.userid == self.userid
        )
        return int(self.conn.execute(query).scalar() or 0)  # some drivers give Decimal

    def commit_batch(self, batch: int) -> int:
        self._require_write()
        items = self.tables.items_for(batch)
        now_s = sa.cast(sa.literal(self.now_s), sa.BigInteger)  # 64-bit sum on PostgreSQL
        # storage-model §7.3: one upsert merges every field with the stored
        # row (COALESCE); expired-but-unpurged rows count as stored
        merge = self.statements.lookups.merge_staged(
            self.bso,
            items,
            sa.and_(items.c.batch == batch, items.c.userid == self.userid),
            fixed={
                "userid": items.c.userid,
                "collection": sa.literal(self.collection_id, sa.Integer),
                "id": items.c.id,
                "modified": sa.literal(self.now, sa.BigInteger),
            },
            staged={
                "sortindex": items.c.sortindex,
                "payload": items.c.payload,
                "payload_size": items.c.payload_size,
                "ttl": items.c.ttl_offset + now_s,
            },
            defaults={"sortindex": None, "payload": "", "payload_size": 0, "ttl": MAX_TTL},
        )
        self.conn.execute(merge)
        self._touch()
        bu = self.tables.batch_uploads
        self.conn.execute(
            sa.delete(bu).where(
                bu.c.batch == batch, bu.c.userid == self.userid, bu.c.collection == self.collection_id
            )
        )
        committed = self.conn.execute(
            sa.delete(items).where(items.c.batch == batch, items.c.userid == self.userid)
        ).rowcount
        metrics.observe_batch(committed, "commit")
        return self.now
