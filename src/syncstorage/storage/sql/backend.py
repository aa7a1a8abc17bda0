"""SQLStorage: the one implementation of the storage interface.

A `SQLSession` is one database transaction on one pooled connection (a
SQLite write session is a savepoint in a transaction it shares with the
writers queued with it, committed before the session returns:
`db/sqlite_writes.py`). Its start takes the collection lock of storage-model
§5 and only then fixes `now`, so waiting for the lock never makes a
request's timestamp stale.
Operations follow storage-model §6-§7; the SQL that differs between
databases comes from the dialect (`syncstorage.db`) and `statements.py`.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import sqlalchemy as sa

from ... import db, metrics, timestamps
from .. import (
    BSO,
    BSOUpdate,
    ConflictError,
    InvalidOffsetError,
    ItemQuery,
    Page,
    Sort,
    StorageError,
)
from .collections import MAX_COLLECTIONS_CACHE_SIZE, CollectionIdCache
from .statements import ListingShape, Statements
from .schema import (
    BATCH_LIFETIME_MS,
    BSO_KEY,
    DEFAULT_SHARDSIZE,
    MAX_TTL,
    TOMBSTONE_COLLECTION,
    StorageTables,
)

ITEM_KEY = ("batch", "userid", "id")
USER_COLLECTION_KEY = ["userid", "collection"]
BATCH_ID_ATTEMPTS = 5  # storage-model §7.1
_OFFSET_PART = re.compile(r"[0-9]{1,18}")  # fits a BIGINT, no sign
# The longest a write waits for its timestamp to pass the collection's last
# write (storage-model §5.3; _after_tick): its own tick, and one more for a
# clock that runs a little behind another process's
MAX_TICK_WAIT_MS = 20


@dataclass(frozen=True, slots=True)
class PurgeResult:
    expired_items: int
    stale_batches: int
    stale_batch_items: int
    incomplete: bool  # a loop hit max_loops: run again to finish


class SQLStorage:
    """Storage on SQLite, PostgreSQL or MySQL/MariaDB, chosen by the URL."""

    def __init__(
        self,
        url: str,
        *,
        shard: bool = False,
        shardsize: int = DEFAULT_SHARDSIZE,
        pool_size: int = 10,
        lock_timeout: float = 10.0,
        database_timeout: float | None = None,
        collection_cache_size: int = MAX_COLLECTIONS_CACHE_SIZE,
        clock: timestamps.Clock = timestamps.WALL_CLOCK,
    ):
        """`database_timeout`: seconds any one wait for the database may
        last, the wait for a pooled connection included (the server's
        setting); None for work that may take long (`Dialect.database_timeout`).
        `clock`: the time of writes, expiry and purges."""
        self.clock = clock
        self.dialect, self.engine = db.create_engine(
            url, lock_timeout=lock_timeout, database_timeout=database_timeout, pool_size=pool_size
        )
        self.url = self.engine.url
        self.writers = self.dialect.writers(
            self.engine, max_tick_wait=MAX_TICK_WAIT_MS / 1000, clock=clock.time
        )
        self.tables = StorageTables(shard=shard, shardsize=shardsize)
        self.read_threads, self.write_threads = self.dialect.threads(pool_size)
        self.reads_never_wait = self.dialect.reads_never_wait
        metrics.track_pool(self.engine, "storage")
        self.statements = Statements(self.tables, self.dialect)
        self.collection_ids = CollectionIdCache(collection_cache_size)

    # --- the interface ---
    @contextmanager
    def session(
        self, userid: int, collection: str | None = None, *, write: bool = False
    ) -> Iterator[SQLSession]:
        queue = contextlib.nullcontext()
        if write and collection is not None:
            queue = self.writers.collection_writers(userid, collection)
        with queue as writers:
            with self.transaction(write=write) as conn:
                session = SQLSession(self, conn, userid, collection, write)
                session.start()
                yield session
            if writers is not None:
                writers.last_written = session.now
        # committed: ids this session read or created are now safe to cache
        for name, collectionid in session.seen_collections:
            self.collection_ids.add(name, collectionid)

    def ping(self) -> None:
        with self.transaction(write=False) as conn:
            conn.execute(sa.text("SELECT 1"))

    def close(self) -> None:
        self.engine.dispose()

    # --- housekeeping ---
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

    # --- plumbing ---
    @contextmanager
    def transaction(self, *, write: bool) -> Iterator[sa.Connection]:
        """One transaction as the dialect runs it (`Dialect.writers`),
        with database errors turned into the interface's ConflictError /
        UnavailableError."""
        try:
            with self.writers.transaction(write=write) as conn:
                yield conn
        # DBAPIError: the driver's; TimeoutError: no free connection in the pool
        except (sa.exc.DBAPIError, sa.exc.TimeoutError) as exc:
            translated = self.dialect.expected_error(exc)
            if translated is None:
                raise
            raise translated from exc


class SQLSession:
    """One transaction for one user (see `syncstorage.storage.Session`)."""

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
        self._last_modified = self.conn.execute(
            self.statements.lock[self.write], {"uid": self.userid, "cid": collectionid}
        ).scalar()
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
        return names

    def _by_name(self, rows) -> dict[str, int]:
        rows = [(cid, int(value)) for cid, value in rows]
        names = self._names([cid for cid, _ in rows])
        return {names[cid]: value for cid, value in rows}

    # --- reads without a collection ---
    def storage_timestamp(self) -> int:
        query = self.statements.storage_timestamp
        return self.conn.execute(query, {"uid": self.userid}).scalar() or 0

    def collection_timestamps(self) -> dict[str, int]:
        query = self.statements.collection_timestamps
        return self._by_name(self.conn.execute(query, {"uid": self.userid}))

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

    def _live_item(self, id: str) -> dict:
        """Parameters of the single-item statements (`BSOStatements`)."""
        return {"uid": self.userid, "cid": self.collection_id, "item": id, "now_s": self.now_s}

    def item_timestamp(self, id: str) -> int | None:
        if self.collection_id is None:
            return None
        return self.conn.execute(self.bso_statements.item_timestamp, self._live_item(id)).scalar()

    def get_item(self, id: str) -> BSO | None:
        if self.collection_id is None:
            return None
        row = self.conn.execute(self.bso_statements.get_item, self._live_item(id)).first()
        return BSO(*row) if row is not None else None

    def find_items(self, query: ItemQuery) -> Page:
        bound, skip = _decode_offset(query)
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
        params = {"uid": self.userid, "cid": self.collection_id, "now_s": self.now_s}
        params.update(ids=query.ids, newer=query.newer, older=query.older, bound=bound, skip=skip)
        if query.limit is not None:
            params["limit"] = query.limit + 1  # one more: is there a next page?
        select = self.statements.listing(self.bso, shape)
        rows = self.conn.execute(select, params).all()
        if query.full:
            items = rows  # selected in BSO's field order: they serve as they are (see Page)
        else:
            items = [BSO(id, modified, "", sortindex) for id, modified, sortindex in rows]
        if query.limit is None or len(items) <= query.limit:
            return Page(items, None)
        items = items[: query.limit]
        return Page(items, _next_offset(query.sort, items, bound, skip))

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

    def _upsert_by_shape(self, table, keys, items, make_row, changed) -> None:
        """Upsert `items`, one statement per set of supplied fields (issue 3):
        the update of an existing row changes only the columns
        `changed(payload?, sortindex?, ttl?)` names, so unsent fields keep
        their stored values.

        The rows go as one executemany of a fixed statement, which SQLAlchemy
        compiles once: PyMySQL sends it as one multi-row INSERT, psycopg as
        one pipelined round trip, SQLite runs one prepared statement. A
        multi-VALUES construct would be recompiled on every request, which
        costs more than the database work (docs/architecture.md, storage/).
        """
        rows_by_shape: dict[tuple[bool, bool, bool], list[dict]] = {}
        for item in {item.id: item for item in items}.values():
            shape = (item.payload is not None, item.sortindex is not None, item.ttl is not None)
            rows_by_shape.setdefault(shape, []).append(make_row(item))
        for shape, rows in rows_by_shape.items():
            upsert = self.statements.upsert(table, keys, tuple(changed(*shape)))
            self.conn.execute(upsert, rows)

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
            inserted = self.conn.execute(
                self.statements.create_user_collection,
                {"userid": self.userid, "collection": self.collection_id, "last_modified": self.now},
            ).rowcount
            if inserted:
                self._last_modified = self.now
                return
            # storage-model §5.5: another first write created the row since
            # our lock found none; lock it now and apply the conflict rule
            self._lock_existing(self.collection_id)
        self.conn.execute(
            self.statements.touch, {"uid": self.userid, "cid": self.collection_id, "now": self.now}
        )
        self._last_modified = self.now

    def _lock_existing(self, collectionid: int) -> None:
        query = self.statements.lock[True]
        self._check_advances(
            self.conn.execute(query, {"uid": self.userid, "cid": collectionid}).scalar()
        )

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
        deleted = self.conn.execute(self.bso_statements.delete_item, self._live_item(id)).rowcount
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


# --- offset tokens (storage-api §12) -----------------------------------------------


def _decode_offset(query: ItemQuery) -> tuple[int | None, int]:
    """(bound, skip) of the query's token; bound is None for index sorts."""
    token = query.offset
    if token is None:
        return None, 0
    if query.sort is Sort.INDEX:
        if not _OFFSET_PART.fullmatch(token):
            raise InvalidOffsetError(f"invalid offset {token!r}")
        return None, int(token)
    bound_text, _, skip_text = token.partition(":")
    if not (_OFFSET_PART.fullmatch(bound_text) and _OFFSET_PART.fullmatch(skip_text)):
        raise InvalidOffsetError(f"invalid offset {token!r}")
    bound = int(bound_text)
    if (query.newer is not None and bound < query.newer) or (
        query.older is not None and bound > query.older
    ):
        raise InvalidOffsetError(f"offset {token!r} is outside newer/older")
    return bound, int(skip_text)


def _next_offset(sort: Sort, items: Sequence[BSO], bound: int | None, skip: int) -> str:
    if sort is Sort.INDEX:
        return str(skip + len(items))
    last = items[-1].modified
    trailing = 0
    for item in reversed(items):
        if item.modified != last:
            break
        trailing += 1
    if trailing == len(items) and bound == last:
        trailing += skip  # the whole page sat on the previous bound
    return f"{last}:{trailing}"
