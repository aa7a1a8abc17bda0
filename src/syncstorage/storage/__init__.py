"""The storage interface: what the HTTP layer may ask of a storage backend.

One request is one *session*, one database transaction that holds the
collection lock of storage-model §5 from its first statement to its commit.
The HTTP layer opens a session, checks the request's preconditions against
the timestamps the session reads, performs the operation and lets the
session commit; any exception rolls everything back.

    with storage.session(uid, "bookmarks", write=True) as s:
        if precondition_fails(s.collection_timestamp()):
            raise ...              # rolled back, nothing written
        s.set_items(items)         # every row gets s.now as `modified`

All timestamps are integer milliseconds (multiples of 10), see
`syncstorage.timestamps`. Sessions are synchronous: the HTTP layer runs a
whole session in one worker thread.

There is exactly one implementation, `syncstorage.storage.sql.SQLStorage`,
working on SQLite, PostgreSQL and MySQL/MariaDB.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import NamedTuple, Protocol

# the database's failures are part of this interface (defined below it, in db/)
from syncstorage.db.errors import ConflictError as ConflictError
from syncstorage.db.errors import StorageError as StorageError
from syncstorage.db.errors import UnavailableError as UnavailableError

# --- values ------------------------------------------------------------------


class BSO(NamedTuple):
    """A stored record as read back (storage-api §3.2).

    A tuple so that a database row with these fields in this order, which
    unpacks and names its fields alike, can stand for a BSO (see `Page`)."""

    id: str
    modified: int  # ms
    payload: str
    sortindex: int | None


@dataclass(slots=True)
class BSOUpdate:
    """A record to write. `None` means "not supplied": on create the default
    is used, on update the stored value is kept (storage-api §3.3)."""

    id: str
    payload: str | None = None
    sortindex: int | None = None
    ttl: int | None = None  # seconds from the write (batch: the commit)


class Sort(enum.Enum):
    NEWEST = "newest"  # modified DESC, id DESC (also the default)
    OLDEST = "oldest"  # modified ASC, id ASC
    INDEX = "index"  # sortindex DESC NULLS LAST, id DESC


@dataclass(slots=True)
class ItemQuery:
    """Filters of `GET /storage/{collection}` after HTTP validation."""

    ids: list[str] | None = None
    newer: int | None = None  # ms, strict
    older: int | None = None  # ms, strict
    sort: Sort = Sort.NEWEST
    limit: int | None = None  # None = all matching rows
    offset: str | None = None  # opaque token from a previous Page
    full: bool = False  # False: only ids are needed


@dataclass(slots=True)
class Page:
    # With full=True the items may be the database's rows as fetched, with
    # BSO's fields in BSO's order: copying each into a BSO cost as much as
    # rendering the page (issue 6, profiled). With full=False, payload may
    # be "" (only id is used).
    items: Sequence[BSO]
    next_offset: str | None  # value for X-Weave-Next-Offset, or None


# --- errors ------------------------------------------------------------------

class InvalidOffsetError(StorageError):
    """An offset token that does not fit the query (HTTP 400)."""


class UserMigrating(StorageError):
    """The user is being moved, or has moved, to another node (the
    `migration` table, with allow_migration on): HTTP 503 with
    Retry-After 300 (storage-model §9)."""


# --- the interface -------------------------------------------------------------


class Session(Protocol):
    """One transaction for one user, optionally locking one collection."""

    userid: int
    collection: str | None
    now: int  # T: this request's timestamp in ms, taken after the lock

    # reads, any session
    def storage_timestamp(self) -> int:
        """Max last_modified over the user's collections and tombstone; 0 if none."""

    def collection_timestamps(self) -> dict[str, int]: ...
    def collection_counts(self) -> dict[str, int]:
        """Live (unexpired) item counts; collections with none are omitted."""

    def collection_sizes(self) -> dict[str, int]:
        """Live payload bytes per collection; collections with none are omitted."""

    def total_size(self) -> int:
        """Live payload bytes over all collections (quota usage)."""

    # reads, collection session
    def collection_timestamp(self) -> int | None:
        """The locked collection's last_modified, None if the user lacks it."""

    def item_timestamp(self, id: str) -> int | None:
        """modified of a live item, None if absent or expired."""

    def get_item(self, id: str) -> BSO | None: ...
    def find_items(self, query: ItemQuery) -> Page:
        """Raises InvalidOffsetError for a token that does not fit the query."""

    # writes, write session on a collection
    def set_items(self, items: list[BSOUpdate]) -> int:
        """Upsert items (may be empty) and touch the collection; returns now."""

    def delete_item(self, id: str) -> bool:
        """Delete a live item and touch the collection; False if absent/expired."""

    def delete_items(self, ids: list[str]) -> int:
        """Delete these ids; touch the collection if the user has it. Returns now."""

    def delete_collection(self) -> int | None:
        """Delete the collection and its items and write the tombstone.
        Returns the new storage timestamp, or None if the user had neither."""

    # batches, write session on a collection
    def create_batch(self) -> int:
        """Create a batch bound to (user, collection); returns its integer id."""

    def batch_exists(self, batch: int) -> bool:
        """True if the batch is open, belongs to this user and collection and
        is younger than BATCH_LIFETIME."""

    def append_to_batch(self, batch: int, items: list[BSOUpdate]) -> None:
        """Stage items, merging with earlier stagings of the same id."""

    def staged_size(self, batch: int) -> int:
        """Payload bytes staged in the batch (what its commit would write, for
        the quota check of storage-api §13)."""

    def commit_batch(self, batch: int) -> int:
        """Apply the staged items with modified = now (COALESCE merge), touch
        the collection, close the batch. Returns now."""

    def commit_items(self, items: list[BSOUpdate]) -> int:
        """What create_batch, append_to_batch(items) and commit_batch do in
        one request (`?batch=true&commit=true`), without staging. Returns now."""

    # writes, write session without a collection
    def delete_storage(self) -> int:
        """Delete all the user's data (batches included), write the tombstone; returns now."""


class Storage(Protocol):
    # how many threads the HTTP layer runs read / write sessions on
    read_threads: int
    write_threads: int
    # True if a read never waits (no network, no lock): a read of a few
    # rows may then run on the event loop instead of a thread
    reads_never_wait: bool

    def session(
        self, userid: int, collection: str | None = None, *, write: bool = False, fxa_uid: str | None = None
    ) -> AbstractContextManager[Session]:
        """Open a transaction and take the lock of storage-model §5.

        With allow_migration on, a write session of `fxa_uid` then raises
        UserMigrating if the user's move to another node has started (the
        check that keeps a write from being lost during a move).

        Write sessions on a collection create its id if needed, lock its
        user_collections row, then take `now`; if the row's last_modified is
        already >= now they raise ConflictError. A write session without a
        collection locks the tombstone row (DELETE storage)."""

    def user_timestamps(self, userid: int) -> tuple[int, dict[str, int]]:
        """(storage timestamp, {collection name: last_modified}) as one read
        session's `storage_timestamp()` and `collection_timestamps()` would
        give them, from one snapshot: `GET info/collections`, the most
        frequent request, without a session."""

    def refuse_if_migrating(self, fxa_uid: str) -> None:
        """Raise UserMigrating if the user's move to another node has started
        (storage-model §9): what every storage request checks first, with
        allow_migration on."""

    def ping(self) -> None:
        """A trivial query; raises UnavailableError if the database is down."""

    def close(self) -> None: ...
