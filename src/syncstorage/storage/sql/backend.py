"""SQLStorage: the one implementation of the storage interface.

A `SQLSession` is one database transaction on one pooled connection (a
SQLite write session is a savepoint in a transaction it shares with the
writers queued with it, committed before the session returns:
`db/sqlite_writes.py`). Its core (`session.py`) takes the collection lock
of storage-model §5; its operations follow storage-model §6-§7, one module
per concern (`reads.py`, `writes.py`, `batches.py`, the offset tokens in
`offsets.py`). The operators' work (purge, stats) is in `maintenance.py`.
The SQL that differs between databases comes from the dialect
(`syncstorage.db`) and `statements.py`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from ... import db, metrics, timestamps
from . import moves
from .batches import Batches
from .collections import MAX_COLLECTIONS_CACHE_SIZE, CollectionIdCache
from .maintenance import Maintenance
from .reads import Reads
from .schema import DEFAULT_SHARDSIZE, TOMBSTONE_COLLECTION, StorageTables
from .session import MAX_TICK_WAIT_MS
from .statements import Statements


class SQLStorage(Maintenance):
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
        allow_migration: bool = False,
    ):
        """`database_timeout`: seconds any one wait for the database may
        last, the wait for a pooled connection included (the server's
        setting); None for work that may take long (`Dialect.database_timeout`).
        `clock`: the time of writes, expiry and purges. `allow_migration`:
        write sessions check the `migration` table (storage/sql/moves.py)."""
        self.clock = clock
        self.allow_migration = allow_migration
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
        self.statements = Statements(self.tables, self.dialect, self.engine.dialect)
        self.collection_ids = CollectionIdCache(collection_cache_size)

    # --- the interface ---
    @contextmanager
    def session(
        self, userid: int, collection: str | None = None, *, write: bool = False, fxa_uid: str | None = None
    ) -> Iterator[SQLSession]:
        queue: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
        if write and collection is not None:
            queue = self.writers.collection_writers(userid, collection)
        with queue as writers:
            with self.transaction(write=write) as conn:
                session = SQLSession(self, conn, userid, collection, write)
                session.start()
                if write and self.allow_migration and fxa_uid is not None:
                    moves.refuse_if_migrating(conn, self, fxa_uid, writing=True)
                yield session
            if writers is not None:
                writers.last_written = session.now
        # committed: ids this session read or created are now safe to cache
        for name, collectionid in session.seen_collections:
            self.collection_ids.add(name, collectionid)

    def user_timestamps(self, userid: int) -> tuple[int, dict[str, int]]:
        # One statement outside a session (Writers.read_once):
        # a read session's Connection, BEGIN and ROLLBACK cost more than
        # its two statements (profiled, docs/performance.md, issue 13)
        with self._errors_translated():
            rows = self.writers.read_once(self.statements.user_timestamps, {"uid": userid})
        storage_timestamp = max((last_modified for _, last_modified in rows), default=0)
        stamps = {}
        for collectionid, last_modified in rows:
            if collectionid == TOMBSTONE_COLLECTION:
                continue
            name = self.collection_ids.name(collectionid)
            if name is None:  # not cached yet: a session reads the names
                with self.session(userid) as session:
                    return session.storage_timestamp(), session.collection_timestamps()
            stamps[name] = last_modified
        return storage_timestamp, stamps

    def refuse_if_migrating(self, fxa_uid: str) -> None:
        with self.transaction(write=False) as conn:
            moves.refuse_if_migrating(conn, self, fxa_uid, writing=False)

    def ping(self) -> None:
        with self.transaction(write=False) as conn:
            conn.execute(sa.text("SELECT 1"))

    def close(self) -> None:
        self.writers.close()
        self.engine.dispose()

    # --- plumbing ---
    @contextmanager
    def transaction(self, *, write: bool) -> Iterator[sa.Connection]:
        """One transaction as the dialect runs it (`Dialect.writers`),
        with database errors turned into the interface's ConflictError /
        UnavailableError."""
        with self._errors_translated(), self.writers.transaction(write=write) as conn:
            yield conn

    @contextmanager
    def _errors_translated(self) -> Iterator[None]:
        try:
            yield
        # DBAPIError: the driver's; TimeoutError: no free connection in the pool
        except (sa.exc.DBAPIError, sa.exc.TimeoutError) as exc:
            translated = self.dialect.expected_error(exc)
            if translated is None:
                raise
            raise translated from exc


class SQLSession(Reads, Batches):
    """One transaction for one user (see `syncstorage.storage.Session`):
    the core and the operations of each concern, joined in one class (the
    methods resolve once per class, not per call)."""

