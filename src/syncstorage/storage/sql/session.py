"""The core of a storage session: one transaction, its collection lock
(storage-model §5) and the collection ids (§4.1, §4.2).

Its start takes the collection lock and only then fixes `now`, so waiting
for the lock never makes a request's timestamp stale. The operations are in
`reads.py`, `writes.py` and `batches.py`; `backend.SQLSession` joins them.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, cast

import sqlalchemy as sa

from ... import timestamps
from ...db.compiled import Driver
from .. import ConflictError, StorageError
from .schema import TOMBSTONE_COLLECTION

if TYPE_CHECKING:
    from .backend import SQLStorage

# The longest a write waits for its timestamp to pass the collection's last
# write (storage-model §5.3; _after_tick): its own tick, and one more for a
# clock that runs a little behind another process's
MAX_TICK_WAIT_MS = 20


class SessionCore:
    """One transaction for one user: its state, the collection lock and the
    collection ids, which every operation of `SQLSession` builds on."""

    def __init__(
        self,
        storage: SQLStorage,
        conn: sa.Connection,
        userid: int,
        collection: str | None,
        write: bool,
    ):
        self.storage = storage
        self.conn = conn
        self.dialect = storage.dialect
        self.tables = storage.tables
        self.userid = userid
        self.collection = collection
        self.write = write
        self.bso = storage.tables.bso_for(userid)
        self.statements = storage.statements
        self.bso_statements = storage.statements.bso(self.bso)
        # the driver's connection, for the statements compiled once
        # (db/compiled.py): SQLAlchemy's execution path cost more than
        # these statements (docs/performance.md, issue 13)
        self.driver = Driver.of(conn)
        self.now = 0
        self.collection_id: int | None = None
        # last_modified of the locked user_collections row (None: no row)
        self._last_modified: int | None = None
        # (name, id) pairs to cache once the transaction has committed
        self.seen_collections: list[tuple[str, int]] = []

    @property
    def now_s(self) -> int:
        return self.now // 1000  # storage-model §4.4

    # --- locking (storage-model §5) ---
    def start(self) -> None:
        if self.collection is not None:
            self.collection_id = self._collection_id(self.collection, create=self.write)
            if self.collection_id is not None:
                self._lock(self.collection_id)
                return
        elif self.write:
            self._lock(TOMBSTONE_COLLECTION)  # DELETE storage, §5.5
            return
        self.now = self.storage.clock.now_ms()

    def _lock(self, collectionid: int) -> None:
        self._last_modified = self.driver.scalar(
            self.statements.lock[self.write], {"uid": self.userid, "cid": collectionid}
        )
        self.now = self.storage.clock.now_ms()
        if self.write and self._last_modified is not None:
            self.now = _after_tick(self._last_modified, self.now, self.storage.clock)
        self._check_advances(self._last_modified)

    def _check_advances(self, last_modified: int | None) -> None:
        """The conflict rule (storage-model §5.3): a write must move the
        collection's timestamp strictly forward."""
        if self.write and last_modified is not None and last_modified >= self.now:
            raise ConflictError("collection was modified at or after this request's timestamp")

    def _require_write(self) -> None:
        if not self.write or self.collection_id is None:
            raise RuntimeError("this operation needs a write session on a collection")

    # --- collection ids (storage-model §4.1, §4.2) ---
    def _collection_id(self, name: str, *, create: bool) -> int | None:
        cached = self.storage.collection_ids.id(name)
        if cached is not None:
            return cached
        c = self.tables.collections
        query = sa.select(c.c.collectionid).where(c.c.name == name)
        collectionid = self.conn.execute(query).scalar()
        if collectionid is None and create:
            # a concurrent first use of the name is skipped, not an error
            # (PostgreSQL would abort the transaction on a caught violation)
            self.conn.execute(self.dialect.insert_ignore(c).values(name=name))
            collectionid = self.conn.execute(query).scalar()
        if collectionid is not None:
            self.seen_collections.append((name, collectionid))
        return collectionid

    def _names(self, collectionids) -> dict[int, str]:
        cache = self.storage.collection_ids
        names = {cid: cache.name(cid) for cid in collectionids}
        missing = [cid for cid, name in names.items() if name is None]
        if missing:
            c = self.tables.collections
            rows = self.conn.execute(
                sa.select(c.c.collectionid, c.c.name).where(c.c.collectionid.in_(missing))
            )
            for cid, name in rows:
                names[cid] = name
                self.seen_collections.append((name, cid))
        unnamed = [cid for cid, name in names.items() if name is None]
        if unnamed:
            raise StorageError(f"collection ids without a name: {unnamed}")  # corruption
        return cast("dict[int, str]", names)  # every name found, or raised above

    def _by_name(self, rows) -> dict[str, int]:
        rows = [(cid, int(value)) for cid, value in rows]
        names = self._names([cid for cid, _ in rows])
        return {names[cid]: value for cid, value in rows}

    def _live_item(self, id: str) -> dict:
        """Parameters of the single-item statements (`BSOStatements`)."""
        return {"uid": self.userid, "cid": self.collection_id, "item": id, "now_s": self.now_s}


def _after_tick(last_modified: int, now: int, clock: timestamps.Clock) -> int:
    """`now`, or once the collection's last write is in the past, the first
    tick after it, waited for while holding the lock.

    Two writes to a collection in one 10 ms tick are the common conflict
    (storage-model §5.3: T must move forward): clients write in bursts, and
    SQLite's group commit and the row locks of PostgreSQL/MariaDB hand the
    lock on within a millisecond. The lock serves its queue roughly in
    arrival order, so waiting for the tick under it (at most MAX_TICK_WAIT_MS)
    lets every queued writer through in turn, 100 per second per
    collection; rolling back and retrying instead lets the writers race
    again (with one retry, 72-85 % of 10 devices' POSTs were refused). A
    collection stamped further ahead (another server's clock) is left to
    the conflict rule. (On SQLite the lock is the process's write turn:
    there this process's writers wait for the tick before they queue for
    it, in db/sqlite_writes.CollectionQueue.)
    """
    if 0 <= last_modified - now < MAX_TICK_WAIT_MS:
        wait = last_modified / 1000 - clock.time() + 0.0005  # now_ms() rounds up past it
        time.sleep(min(max(wait, 0), MAX_TICK_WAIT_MS / 1000))
        now = clock.now_ms()
    return now
