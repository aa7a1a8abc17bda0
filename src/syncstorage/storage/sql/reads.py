"""The reads of a storage session (storage-api §8, §9.1, §10): timestamps,
counts and sizes per collection, one item, listings."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from ...db.compiled import Compiled
from .. import BSO, ItemQuery, Page
from .offsets import decode_offset, next_offset
from .schema import TOMBSTONE_COLLECTION
from .session import SessionCore
from .statements import ListingShape


class Reads(SessionCore):
    # --- reads without a collection ---
    def storage_timestamp(self) -> int:
        query = self.statements.storage_timestamp
        return self.driver.scalar(query, {"uid": self.userid}) or 0

    def collection_timestamps(self) -> dict[str, int]:
        rows = self.driver.rows(self.statements.user_timestamps, {"uid": self.userid})
        return self._by_name([row for row in rows if row[0] != TOMBSTONE_COLLECTION])

    def _per_collection(self, aggregate) -> dict[str, int]:
        bso = self.bso
        query = (
            sa.select(bso.c.collection, aggregate)
            .where(bso.c.userid == self.userid, bso.c.ttl > self.now_s)
            .group_by(bso.c.collection)
        )
        return self._by_name(self.conn.execute(query))

    def collection_counts(self) -> dict[str, int]:
        return self._per_collection(sa.func.count())

    def collection_sizes(self) -> dict[str, int]:
        return self._per_collection(sa.func.sum(self.bso.c.payload_size))

    def total_size(self) -> int:
        bso = self.bso
        query = sa.select(sa.func.sum(bso.c.payload_size)).where(
            bso.c.userid == self.userid, bso.c.ttl > self.now_s
        )
        return int(self.conn.execute(query).scalar() or 0)  # some drivers give Decimal

    # --- reads in a collection ---
    def collection_timestamp(self) -> int | None:
        return self._last_modified if self.collection_id is not None else None

    def item_timestamp(self, id: str) -> int | None:
        if self.collection_id is None:
            return None
        return self.driver.scalar(self.bso_statements.item_timestamp, self._live_item(id))

    def get_item(self, id: str) -> BSO | None:
        if self.collection_id is None:
            return None
        rows = self.driver.rows(self.bso_statements.get_item, self._live_item(id))
        return BSO(*rows[0]) if rows else None

    def find_items(self, query: ItemQuery) -> Page:
        bound, skip = decode_offset(query)
        if self.collection_id is None or query.limit == 0 or query.ids == []:
            return Page([], None)
        shape = ListingShape(
            full=query.full,
            ids=query.ids is not None,
            newer=query.newer is not None,
            older=query.older is not None,
            sort=query.sort,
            bound=bound is not None,
            limit=query.limit is not None,
            skip=bool(skip),
        )
        params: dict[str, Any] = {"uid": self.userid, "cid": self.collection_id, "now_s": self.now_s}
        params.update(ids=query.ids, newer=query.newer, older=query.older, bound=bound, skip=skip)
        if query.limit is not None:
            params["limit"] = query.limit + 1  # one more: is there a next page?
        select = self.statements.listing(self.bso, shape)
        rows: Sequence[Any]
        if isinstance(select, Compiled):
            rows = self.driver.rows(select, params)
        else:
            rows = self.conn.execute(select, params).all()
        items: Sequence[BSO]
        if query.full:
            # selected in BSO's field order (see Page)
            items = list(map(BSO._make, rows))
        else:
            items = [BSO(id, modified, "", sortindex) for id, modified, sortindex in rows]
        if query.limit is None or len(items) <= query.limit:
            return Page(items, None)
        items = items[: query.limit]
        return Page(items, next_offset(query.sort, items, bound, skip))
