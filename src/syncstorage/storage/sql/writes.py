"""The writes of a storage session (storage-model §6.2, §6.3): upserts,
the collection's timestamp, deletes and tombstones."""

from __future__ import annotations

from typing import cast

import sqlalchemy as sa

from .. import BSOUpdate
from .schema import BSO_KEY, MAX_TTL, TOMBSTONE_COLLECTION
from .session import SessionCore

USER_COLLECTION_KEY = ["userid", "collection"]


class Writes(SessionCore):
    # --- writes (storage-model §6.2, §6.3) ---
    def set_items(self, items: list[BSOUpdate]) -> int:
        self._require_write()

        def changed(payload: bool, sortindex: bool, ttl: bool) -> list[str]:
            names = _supplied_columns(payload, sortindex, ttl, ttl_column="ttl")
            if payload or sortindex:  # a ttl-only write keeps `modified` (§3.3)
                names.append("modified")
            return names

        self._upsert_by_shape(self.bso, BSO_KEY, items, self._bso_row, changed)
        self._touch()
        return self.now

    def _upsert_by_shape(self, table, keys, items, make_row, changed) -> int:
        """Upsert `items`, one statement per set of supplied fields (issue 3):
        the update of an existing row changes only the columns
        `changed(payload?, sortindex?, ttl?)` names, so unsent fields keep
        their stored values.

        The rows go as one executemany of a fixed statement, which SQLAlchemy
        compiles once: PyMySQL sends it as one multi-row INSERT, psycopg as
        one pipelined round trip, SQLite runs one prepared statement. A
        multi-VALUES construct would be recompiled on every request, which
        costs more than the database work (docs/architecture.md, storage/).
        Returns how many distinct ids were written (the last of an id wins).
        """
        rows_by_shape: dict[tuple[bool, bool, bool], list[dict]] = {}
        unique = {item.id: item for item in items}
        for item in unique.values():
            shape = (item.payload is not None, item.sortindex is not None, item.ttl is not None)
            rows_by_shape.setdefault(shape, []).append(make_row(item))
        for shape, rows in rows_by_shape.items():
            upsert = self.statements.upsert(table, keys, tuple(changed(*shape)), tuple(rows[0]))
            self.driver.executemany(upsert, rows)
        return len(unique)

    def _bso_row(self, item: BSOUpdate) -> dict:
        """The row inserted for a new BSO: defaults for what was not supplied."""
        payload = item.payload if item.payload is not None else ""
        return {
            "userid": self.userid,
            "collection": self.collection_id,
            "id": item.id,
            "sortindex": item.sortindex,
            "payload": payload,
            "payload_size": _utf8_size(payload),
            "ttl": self.now_s + item.ttl if item.ttl is not None else MAX_TTL,
            "modified": self.now,
        }

    def _touch(self) -> None:
        """Set the collection's last_modified to now (storage-model §6.2)."""
        if self._last_modified is None:
            inserted = self.driver.rowcount(
                self.statements.create_user_collection,
                {"userid": self.userid, "collection": self.collection_id, "last_modified": self.now},
            )
            if inserted:
                self._last_modified = self.now
                return
            # storage-model §5.5: another first write created the row since
            # our lock found none; lock it now and apply the conflict rule
            self._lock_existing(cast(int, self.collection_id))  # a write session's collection exists
        self.driver.rowcount(
            self.statements.touch, {"uid": self.userid, "cid": self.collection_id, "now": self.now}
        )
        self._last_modified = self.now

    def _lock_existing(self, collectionid: int) -> None:
        query = self.statements.lock[True]
        self._check_advances(self.driver.scalar(query, {"uid": self.userid, "cid": collectionid}))

    def _write_tombstone(self) -> None:
        """Record this deletion's time (storage-api §4.4). Never lowered, so
        the storage timestamp cannot go backwards."""
        uc = self.tables.user_collections
        insert = self.dialect.insert(uc).values(
            userid=self.userid, collection=TOMBSTONE_COLLECTION, last_modified=self.now
        )
        self.conn.execute(
            self.dialect.upsert(
                insert,
                USER_COLLECTION_KEY,
                lambda incoming: {
                    "last_modified": sa.case(
                        (uc.c.last_modified > incoming.last_modified, uc.c.last_modified),
                        else_=incoming.last_modified,
                    )
                },
            )
        )

    def delete_item(self, id: str) -> bool:
        self._require_write()
        deleted = self.driver.rowcount(self.bso_statements.delete_item, self._live_item(id))
        if deleted:
            self._touch()
        return bool(deleted)

    def delete_items(self, ids: list[str]) -> int:
        self._require_write()
        self.conn.execute(
            self.bso_statements.delete_items,
            {"uid": self.userid, "cid": self.collection_id, "ids": ids},
        )
        if self._last_modified is not None:  # storage-api §9.5: nothing is created
            self._touch()
        return self.now

    def delete_collection(self) -> int | None:
        self._require_write()
        bso, uc = self.bso, self.tables.user_collections
        items = self.conn.execute(
            sa.delete(bso).where(bso.c.userid == self.userid, bso.c.collection == self.collection_id)
        ).rowcount
        rows = self.conn.execute(
            sa.delete(uc).where(uc.c.userid == self.userid, uc.c.collection == self.collection_id)
        ).rowcount
        if not items and not rows:
            return None
        self._last_modified = None
        self._write_tombstone()
        return self.now

    def delete_storage(self) -> int:
        if not self.write or self.collection is not None:
            raise RuntimeError("delete_storage needs a write session without a collection")
        bu, uc = self.tables.batch_uploads, self.tables.user_collections
        batches = self.conn.execute(
            sa.select(bu.c.batch).where(bu.c.userid == self.userid)
        ).scalars()
        by_table: dict[sa.Table, list[int]] = {}
        for batch in batches:
            by_table.setdefault(self.tables.items_for(batch), []).append(batch)
        for table, ids in by_table.items():
            self.conn.execute(
                sa.delete(table).where(table.c.userid == self.userid, table.c.batch.in_(ids))
            )
        self.conn.execute(sa.delete(bu).where(bu.c.userid == self.userid))
        self.conn.execute(sa.delete(self.bso).where(self.bso.c.userid == self.userid))
        self.conn.execute(sa.delete(uc).where(uc.c.userid == self.userid))
        self._write_tombstone()
        return self.now


def _utf8_size(payload: str) -> int:
    return len(payload.encode("utf-8"))  # sizes are UTF-8 bytes (storage-api §2)


def _supplied_columns(payload: bool, sortindex: bool, ttl: bool, *, ttl_column: str) -> list[str]:
    names = []
    if payload:
        names += ["payload", "payload_size"]
    if sortindex:
        names.append("sortindex")
    if ttl:
        names.append(ttl_column)
    return names
