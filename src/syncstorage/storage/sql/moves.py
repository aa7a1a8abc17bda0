"""Moving users between storage nodes, the storage side (`syncstorage node
migrate`, syncstorage/node_migration.py; storage-model §3.8, §9).

The source node's `migration` table says which users are moving (state 1)
or have moved (state 2); with `allow_migration` on, the server refuses
them every storage request (503, Retry-After 300).

Why no write acknowledged by the source can be lost: a write that checked
the table before the user was marked could still be running when the copy
starts. So every write session, after taking its collection lock, holds a
shared lock on one row of the table (the empty fxa_uid, seeded by
migration 0006) for the rest of its transaction, and only then reads the
user's state; `mark_moving` takes that row's exclusive lock before it marks
the user. The mark therefore waits for every write session that started
before it (they hold the shared lock until they commit), and every write
session after it finds the mark (its read runs once the mark is committed:
a new statement, a new snapshot under READ COMMITTED). On SQLite the
database-wide write lock does the same. The cost, with `allow_migration`
on only: two primary-key reads per write session, one per read request, and
writes of all users pause while a mark waits for the writes in flight
(bounded by `lock_timeout`).

The copy keeps every stored value (expired but unpurged rows too) and maps
collections by name; the destination's rows of the user are deleted first,
so a copy that was interrupted is simply made again. Open batch uploads are
not copied: a batch id is good on its node only, and the client's commit
there is refused while the user moves, so Firefox uploads those records
again in its next sync, on the new node.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import sqlalchemy as sa

from .. import ConflictError, StorageError, UserMigrating
from .schema import TOMBSTONE_COLLECTION

if TYPE_CHECKING:
    from .backend import SQLStorage
    from .schema import StorageTables

MOVING, MOVED = 1, 2  # migration.state (storage-model §3.8)
LOCK_ROW = ""  # the fxa_uid of the row write sessions share (never a real one)
_BSO_COLUMNS = ("id", "sortindex", "modified", "payload", "payload_size", "ttl")
_TOMBSTONE_NAME = ""  # the tombstone's user_collections row, by "name"


# --- on the serving node (allow_migration) ---


def refuse_if_migrating(conn: sa.Connection, storage: SQLStorage, fxa_uid: str, *, writing: bool) -> None:
    """Raise UserMigrating if the user's migration has started. `writing`:
    first take the shared lock `mark_moving` waits for (module doc)."""
    m = storage.tables.migration
    if writing:
        conn.execute(storage.dialect.lock(sa.select(m.c.state).where(m.c.fxa_uid == LOCK_ROW), write=False))
    query = sa.select(m.c.started_at).where(m.c.fxa_uid == fxa_uid, m.c.state > 0).limit(1)
    if conn.execute(query).first() is not None:
        raise UserMigrating("the user is being moved to another node")


# --- the migration table of the source node ---


def mark_moving(source: SQLStorage, fxa_uid: str) -> None:
    """State 1 for the user, once no write session that could miss it is
    running (module doc). Raises ConflictError when that takes longer than
    the lock timeout, or when the lock row had to be re-created."""
    m = source.tables.migration
    with source.transaction(write=True) as conn:
        missing = conn.execute(source.dialect.insert_ignore(m).values(fxa_uid=LOCK_ROW, started_at=0, state=0)).rowcount
    if missing:
        # writes in flight did not hold it: they may still commit after a
        # mark; those of a later attempt will have
        raise ConflictError("the migration table's lock row was missing (deleted by hand?): re-created it, run again")
    with source.transaction(write=True) as conn:
        conn.execute(source.dialect.lock(sa.select(m.c.state).where(m.c.fxa_uid == LOCK_ROW), write=True))
        conn.execute(sa.delete(m).where(m.c.fxa_uid == fxa_uid))
        conn.execute(sa.insert(m).values(fxa_uid=fxa_uid, started_at=source.clock.now_ms(), state=MOVING))


def set_state(storage: SQLStorage, fxa_uid: str, state: int | None) -> None:
    """MOVED once the user's node has changed; None removes the user's row
    (a move given up, or an old mark on a node the user comes back to)."""
    m = storage.tables.migration
    with storage.transaction(write=True) as conn:
        if state is None:
            conn.execute(sa.delete(m).where(m.c.fxa_uid == fxa_uid))
        else:
            conn.execute(sa.update(m).where(m.c.fxa_uid == fxa_uid).values(state=state))


def moving_users(source: SQLStorage, limit: int) -> list[str]:
    """fxa_uids in state 1: moves a crash may have left before their end."""
    m = source.tables.migration
    with source.transaction(write=False) as conn:
        query = sa.select(m.c.fxa_uid).where(m.c.state == MOVING).order_by(m.c.fxa_uid).limit(limit)
        return list(conn.execute(query).scalars())


# --- the copy ---


@dataclass
class UserDigest:
    """What verification compares: per collection name the row count and an
    order-free digest of every row (id, sortindex, modified, payload,
    payload_size, ttl), and the user_collections timestamps by name."""

    rows: dict[str, int] = field(default_factory=dict)
    digests: dict[str, int] = field(default_factory=dict)
    timestamps: dict[str, int] = field(default_factory=dict)

    def add(self, name: str, row) -> None:
        # a sum of row hashes: the same on both sides whatever order each
        # database reads them in
        value = hashlib.sha256(repr(tuple(row)).encode()).digest()
        self.rows[name] = self.rows.get(name, 0) + 1
        self.digests[name] = (self.digests.get(name, 0) + int.from_bytes(value)) % 2**256

    def differences(self, copy: UserDigest) -> list[str]:
        """What differs between this (the source) and `copy`, by collection."""
        names = sorted(set(self.rows) | set(copy.rows) | set(self.timestamps) | set(copy.timestamps))
        found = []
        for name in names:
            label = name or "tombstone"
            rows, copied = self.rows.get(name, 0), copy.rows.get(name, 0)
            if rows != copied:
                found.append(f"{label}: {rows} rows at the source, {copied} in the copy")
            elif self.digests.get(name) != copy.digests.get(name):
                found.append(f"{label}: the rows' contents differ")
            elif self.timestamps.get(name) != copy.timestamps.get(name):
                found.append(f"{label}: timestamp {self.timestamps.get(name)} at the source, {copy.timestamps.get(name)} in the copy")
        return found

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def _collection_names(conn: sa.Connection, tables: StorageTables, uid: int) -> dict[int, str]:
    """The user's collection ids with their names (the tombstone as "")."""
    uc, c = tables.user_collections, tables.collections
    ids = {uc_id for (uc_id,) in conn.execute(sa.select(uc.c.collection).where(uc.c.userid == uid))}
    bso = tables.bso_for(uid)
    ids |= {cid for (cid,) in conn.execute(sa.select(bso.c.collection).distinct().where(bso.c.userid == uid))}
    names = {TOMBSTONE_COLLECTION: _TOMBSTONE_NAME} if TOMBSTONE_COLLECTION in ids else {}
    if ids - {TOMBSTONE_COLLECTION}:
        rows = conn.execute(sa.select(c.c.collectionid, c.c.name).where(c.c.collectionid.in_(ids)))
        names.update({cid: name for cid, name in rows})
    unnamed = ids - set(names)
    if unnamed:
        raise StorageError(f"collection ids without a name: {sorted(unnamed)}")  # corruption
    return names


def _destination_ids(dest: SQLStorage, names: list[str]) -> dict[str, int]:
    """The destination's id of each name, custom ones created if missing."""
    c = dest.tables.collections
    ids = {_TOMBSTONE_NAME: TOMBSTONE_COLLECTION}
    with dest.transaction(write=True) as conn:
        for name in names:
            if name == _TOMBSTONE_NAME:
                continue
            query = sa.select(c.c.collectionid).where(c.c.name == name)
            collectionid = conn.execute(query).scalar()
            if collectionid is None:
                conn.execute(dest.dialect.insert_ignore(c).values(name=name))
                collectionid = conn.execute(query).scalar_one()
            ids[name] = collectionid
    return ids


def _bso_chunks(storage: SQLStorage, uid: int, collectionid: int, chunk_size: int) -> Iterator[Sequence[sa.Row]]:
    """The user's rows in one collection, `chunk_size` per short read
    transaction, in id order (keyset: one index range per chunk)."""
    bso = storage.tables.bso_for(uid)
    query = (
        sa.select(*(bso.c[name] for name in _BSO_COLUMNS))
        .where(bso.c.userid == uid, bso.c.collection == collectionid)
        .order_by(bso.c.id)
        .limit(chunk_size)
    )
    last = None
    while True:
        with storage.transaction(write=False) as conn:
            rows = conn.execute(query if last is None else query.where(bso.c.id > last)).all()
        if rows:
            yield rows
        if len(rows) < chunk_size:
            return
        last = rows[-1].id


def user_digest(storage: SQLStorage, uid: int, chunk_size: int) -> UserDigest:
    """The user's rows on one node, read in chunks (verification)."""
    digest = UserDigest()
    with storage.transaction(write=False) as conn:
        names = _collection_names(conn, storage.tables, uid)
        uc = storage.tables.user_collections
        for cid, last_modified in conn.execute(sa.select(uc.c.collection, uc.c.last_modified).where(uc.c.userid == uid)):
            digest.timestamps[names[cid]] = last_modified
    for cid, name in names.items():
        for rows in _bso_chunks(storage, uid, cid, chunk_size):
            for row in rows:
                digest.add(name, row)
    return digest


def clear_user(storage: SQLStorage, uid: int, fxa_uid: str, chunk_size: int) -> None:
    """Delete the user's rows on the destination before a copy: a partial
    copy of an interrupted run, or data of an earlier stay on this node
    (with its migration row, which would refuse the user here)."""
    tables, dialect = storage.tables, storage.dialect
    bso = tables.bso_for(uid)
    while True:
        with storage.transaction(write=True) as conn:
            deleted = conn.execute(dialect.bounded_delete(bso, bso.c.userid == uid, chunk_size)).rowcount
        if deleted < chunk_size:
            break
    with storage.transaction(write=True) as conn:
        conn.execute(sa.delete(tables.user_collections).where(tables.user_collections.c.userid == uid))
        for batch_items in tables.item_tables:
            conn.execute(sa.delete(batch_items).where(batch_items.c.userid == uid))
        conn.execute(sa.delete(tables.batch_uploads).where(tables.batch_uploads.c.userid == uid))
        conn.execute(sa.delete(tables.migration).where(tables.migration.c.fxa_uid == fxa_uid))


def copy_user(source: SQLStorage, dest: SQLStorage, uid: int, chunk_size: int) -> UserDigest:
    """Copy the user's rows from `source` to `dest` (cleared before), in
    chunks of `chunk_size` rows per read and per write transaction; returns
    the digest of what was read, for `user_digest(dest)` to match."""
    digest = UserDigest()
    with source.transaction(write=False) as conn:
        names = _collection_names(conn, source.tables, uid)
        uc = source.tables.user_collections
        stamps = conn.execute(sa.select(uc.c.collection, uc.c.last_modified).where(uc.c.userid == uid)).all()
    ids = _destination_ids(dest, sorted(set(names.values())))
    target = dest.tables.bso_for(uid)
    for source_id, name in names.items():
        for rows in _bso_chunks(source, uid, source_id, chunk_size):
            values = []
            for row in rows:
                digest.add(name, row)
                values.append({"userid": uid, "collection": ids[name], **row._asdict()})
            with dest.transaction(write=True) as conn:
                # executemany: the drivers batch it (psycopg's pipeline,
                # the MySQL drivers' multi-row INSERT)
                conn.execute(sa.insert(target), values)
    # last: a user whose copy broke off has no collection timestamps there
    if stamps:
        with dest.transaction(write=True) as conn:
            conn.execute(
                sa.insert(dest.tables.user_collections).values(
                    [{"userid": uid, "collection": ids[names[cid]], "last_modified": last_modified} for cid, last_modified in stamps]
                )
            )
    for cid, last_modified in stamps:
        digest.timestamps[names[cid]] = last_modified
    return digest
