"""Copy a database of Mozilla's old Python `syncserver` into ours (issue 5 item 7).

The old server kept, in one SQLite or MySQL database, the storage tables of
server-syncstorage (`collections`, `user_collections`, `bso` or the shards
`bso0`..`bsoN`, batch tables) and the tokenserver tables (`users`, and in
later versions `services` and `nodes`). Its values already mean what ours
mean: `modified`/`last_modified` are integer ms (multiples of 10), `ttl` is
the absolute expiry in seconds with 2100000000 for "never", and `users` has
the columns of auth-and-tokens §8 (older versions lack `keys_changed_at`).

What differs, and why this is a copy and not an in-place upgrade:
- collection ids: the old server numbered collections in the order they
  first appeared (or used fixed ids 1-13 without table rows when it ran with
  `standard_collections`); ours are fixed (storage-model §3.7), so ids are
  mapped by name;
- column types: an INTEGER `ttl` and `userid`, TEXT payloads (64 KiB on
  MySQL) and case-insensitive MySQL collations for ids;
- every user must point at this server's own node (its public_url).
The old database is only read (SQLite is opened read-only) and stays as the
backup. Uncommitted batch uploads are not copied: they live two hours and
clients restart an interrupted upload.

The copy is idempotent: rows already in the target are kept as they are
(they come from an earlier run, or from the user's syncs since, which are
newer), so an interrupted import is simply run again. Reads use index-friendly queries
(one user, one collection, ids after the last seen) and writes go in chunks
of at most `chunk_size` rows, each its own short transaction.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from syncstorage.storage.sql import SQLStorage, dialects, migrate
from syncstorage.storage.sql.schema import MAX_TTL, STANDARD_COLLECTIONS
from syncstorage.tokenserver.db import ensure_node, ensure_service
from syncstorage.tokenserver.schema import SYNC_SERVICE, nodes, users

log = logging.getLogger("syncstorage.import")

ROWS_PER_STATEMENT = 100  # rows in one multi-row INSERT
_STANDARD_BY_ID = {cid: name for name, cid in STANDARD_COLLECTIONS.items()}


class SourceProblem(Exception):
    """The old database cannot be read, or is not a syncserver database."""


@dataclass
class Counts:
    read: int = 0
    copied: int = 0  # new rows in the target
    skipped: int = 0  # not copied (reason in the summary)

    @property
    def present(self) -> int:
        """Rows the target had already (an earlier run of the import)."""
        return self.read - self.copied - self.skipped


@dataclass
class ImportSummary:
    collections: dict[str, int] = field(default_factory=dict)  # old name -> new id
    user_collections: Counts = field(default_factory=Counts)
    items: Counts = field(default_factory=Counts)
    users: Counts = field(default_factory=Counts)
    node: str = ""
    max_uid: int = 0  # the largest uid with data or a record

    def lines(self) -> list[str]:
        def line(what: str, c: Counts, skipped: str) -> str:
            text = f"{what}: {c.read} read, {c.copied} copied, {c.present} already present"
            return text + (f", {c.skipped} skipped ({skipped})" if c.skipped else "")

        return [
            f"collections: {len(self.collections)} mapped by name",
            line("collection timestamps", self.user_collections, "unknown collection id"),
            line("items", self.items, "unknown collection id"),
            line("users", self.users, "not of the sync-1.5 service"),
            f"users are assigned to the node {self.node}",
        ]


def _unreadable(exc: sa.exc.SQLAlchemyError) -> SourceProblem:
    # the driver's first line says what is wrong; the rest is SQL and links
    return SourceProblem(str(getattr(exc, "orig", None) or exc).strip().splitlines()[0])


def _ceil10(value) -> int:
    """Timestamps are multiples of 10 ms (storage-api §4); old rows already are."""
    return -(-int(value) // 10) * 10


def has_syncserver_tables(url: str) -> bool:
    """Whether a database without our schema revision holds old storage
    tables (for the hint of `db upgrade` run on the old database itself)."""
    engine = migrate.migration_engine(url)
    try:
        names = set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()
    return "collections" in names and bool(names & {"bso", "bso0"})


def open_source(url: str) -> sa.Engine:
    """An engine on the old database that cannot change it."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = Path(parsed.database or "")
        if not path.is_file():
            raise SourceProblem(f"{path} does not exist")
        uri = f"file:{path.resolve()}?mode=ro"
        return sa.create_engine("sqlite://", creator=lambda: sqlite3.connect(uri, uri=True))
    _dialect, normalized = dialects.for_url(url, lock_timeout=10.0)
    return sa.create_engine(normalized, pool_size=1, pool_pre_ping=True)


class Source:
    """The old database's tables, as they are (reflected, not assumed)."""

    def __init__(self, engine: sa.Engine):
        self.engine = engine
        try:
            names = set(sa.inspect(engine).get_table_names())
        except sa.exc.SQLAlchemyError as exc:
            raise _unreadable(exc) from None
        missing = {"collections", "user_collections"} - names
        bso_names = sorted(
            (n for n in names if n == "bso" or (n.startswith("bso") and n[3:].isdigit())),
            key=lambda n: int(n[3:] or 0),
        )
        if missing or not bso_names:
            raise SourceProblem(
                "not a syncserver database: no "
                + ", ".join(sorted(missing | ({"bso"} if not bso_names else set())))
                + " table"
            )
        metadata = sa.MetaData()

        def reflect(name: str) -> sa.Table:
            return sa.Table(name, metadata, autoload_with=engine)

        self.collections = reflect("collections")
        self.user_collections = reflect("user_collections")
        self.bso_tables = [reflect(n) for n in bso_names]
        self.users = reflect("users") if "users" in names else None
        self.services = reflect("services") if "services" in names else None

    def rows(self, query: sa.Select) -> list[sa.Row]:
        """One query in its own short read transaction."""
        try:
            with self.engine.connect() as conn:
                return conn.execute(query).all()
        except sa.exc.SQLAlchemyError as exc:
            raise _unreadable(exc) from None

    def keyset(self, query: sa.Select, column: sa.Column, chunk_size: int) -> Iterator[sa.Row]:
        """All rows of `query` in `column` order, `chunk_size` per query; the
        query fixes every key column before `column` by equality, so each
        chunk is one index range on any database."""
        last = None
        while True:
            page = query.order_by(column).limit(chunk_size)
            if last is not None:
                page = page.where(column > last)
            rows = self.rows(page)
            yield from rows
            if len(rows) < chunk_size:
                return
            last = rows[-1]._mapping[column.name]

    def userids(self, table: sa.Table, chunk_size: int) -> Iterator[int]:
        query = sa.select(table.c.userid).distinct()
        for row in self.keyset(query, table.c.userid, chunk_size):
            yield row.userid

    def sync_service_ids(self) -> set[int] | None:
        """Ids of the sync-1.5 service; None when the database predates the
        services table (then every user row is a sync user)."""
        if self.services is None:
            return None
        query = sa.select(self.services.c.id).where(self.services.c.service == SYNC_SERVICE)
        return {row.id for row in self.rows(query)}


class Writer:
    """Buffered INSERT-or-keep into one target database: at most
    `chunk_size` rows per transaction, rows whose key exists are left alone."""

    def __init__(self, transaction: Callable, dialect: dialects.Dialect, chunk_size: int):
        self.transaction = transaction
        self.dialect = dialect
        self.chunk_size = chunk_size
        self.pending: dict[sa.Table, list[dict]] = {}
        self.counts: dict[sa.Table, Counts] = {}

    def add(self, table: sa.Table, row: dict, counts: Counts) -> None:
        self.pending.setdefault(table, []).append(row)
        self.counts[table] = counts
        if sum(map(len, self.pending.values())) >= self.chunk_size:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        with self.transaction() as conn:
            for table, rows in self.pending.items():
                for start in range(0, len(rows), ROWS_PER_STATEMENT):
                    insert = self.dialect.insert_ignore(table).values(rows[start : start + ROWS_PER_STATEMENT])
                    self.counts[table].copied += conn.execute(insert).rowcount
        self.pending.clear()


def import_syncserver(
    source_url: str,
    storage: SQLStorage,
    token_engine: sa.Engine,
    node_url: str,
    node_capacity: int,
    chunk_size: int = 1000,
) -> ImportSummary:
    """Copy storage rows and user records from the old database; see the module doc."""
    source = Source(open_source(source_url))
    try:
        summary = ImportSummary(node=node_url)
        mapping = _collection_mapping(source, storage, summary)
        _copy_storage(source, storage, mapping, summary, chunk_size)
        if source.users is not None:
            _copy_users(source, token_engine, node_url, node_capacity, summary, chunk_size)
        else:
            log.warning("the source has no users table: users get new uids and re-upload their data")
        _reserve_uids(token_engine, summary.max_uid)
        return summary
    finally:
        source.engine.dispose()


def _collection_mapping(source: Source, storage: SQLStorage, summary: ImportSummary) -> dict[int, int]:
    """old collection id -> our id, by name. Ids 1-13 without a row are the
    old server's fixed standard collections (its `standard_collections`)."""
    old = dict(_STANDARD_BY_ID)
    old.update({row.collectionid: row.name for row in source.rows(sa.select(source.collections))})
    collections = storage.tables.collections
    mapping: dict[int, int] = {}
    with storage.transaction(write=True) as conn:
        for old_id, name in old.items():
            if not name:  # the old placeholder row that made custom ids start at 100
                continue
            new_id = STANDARD_COLLECTIONS.get(name)
            if new_id is None:
                conn.execute(storage.dialect.insert_ignore(collections).values(name=name))
                new_id = conn.execute(
                    sa.select(collections.c.collectionid).where(collections.c.name == name)
                ).scalar_one()
            mapping[old_id] = new_id
            summary.collections[name] = new_id
    return mapping


def _copy_storage(source: Source, storage: SQLStorage, mapping: dict[int, int], summary: ImportSummary, chunk_size: int) -> None:
    dialect, tables = storage.dialect, storage.tables
    writer = Writer(lambda: storage.transaction(write=True), dialect, chunk_size)
    uc, old_uc = tables.user_collections, source.user_collections

    for userid in source.userids(old_uc, chunk_size):
        for row in source.rows(sa.select(old_uc.c.collection, old_uc.c.last_modified).where(old_uc.c.userid == userid)):
            summary.user_collections.read += 1
            collection = mapping.get(row.collection)
            if collection is None:
                summary.user_collections.skipped += 1
                continue
            record = {"userid": userid, "collection": collection, "last_modified": _ceil10(row.last_modified)}
            writer.add(uc, record, summary.user_collections)
            summary.max_uid = max(summary.max_uid, userid)
    writer.flush()

    for old_bso in source.bso_tables:
        for userid in source.userids(old_bso, chunk_size):
            target = tables.bso_for(userid)
            in_user = sa.select(old_bso.c.collection).distinct().where(old_bso.c.userid == userid)
            for (old_collection,) in source.rows(in_user):
                collection = mapping.get(old_collection)
                columns = sa.select(
                    old_bso.c.id, old_bso.c.sortindex, old_bso.c.modified, old_bso.c.payload, old_bso.c.ttl
                ).where(old_bso.c.userid == userid, old_bso.c.collection == old_collection)
                for row in source.keyset(columns, old_bso.c.id, chunk_size):
                    summary.items.read += 1
                    if collection is None:
                        summary.items.skipped += 1
                        continue
                    payload = row.payload or ""
                    record = {
                        "userid": userid,
                        "collection": collection,
                        "id": row.id,
                        "sortindex": row.sortindex,
                        "modified": _ceil10(row.modified),
                        "payload": payload,
                        "payload_size": len(payload.encode("utf-8")),  # storage-model §3.4: bytes
                        "ttl": MAX_TTL if row.ttl is None else int(row.ttl),
                    }
                    writer.add(target, record, summary.items)
            summary.max_uid = max(summary.max_uid, userid)
            log.info("copied the items of uid %d from %s (%d items so far)", userid, old_bso.name, summary.items.read)
    writer.flush()


def _copy_users(source: Source, token_engine: sa.Engine, node_url: str, node_capacity: int, summary: ImportSummary, chunk_size: int) -> None:
    """Copy user records with their uids; every one now points at this
    server's own node, whose load becomes the number of current users."""
    token_dialect, _ = dialects.for_url(token_engine.url, lock_timeout=10.0)
    service_id = ensure_service(token_engine).id
    ensure_node(token_engine, service_id, node_url, node_capacity)
    own_node = sa.select(nodes.c.id).where(nodes.c.service == service_id, nodes.c.node == node_url)
    with token_engine.begin() as conn:
        node_id = conn.execute(own_node).scalar_one()
    sync_services = source.sync_service_ids()
    old = source.users
    keys_changed_at = old.c.keys_changed_at if "keys_changed_at" in old.c else sa.null()
    query = sa.select(
        old.c.uid, old.c.service, old.c.email, old.c.generation, old.c.client_state,
        old.c.created_at, old.c.replaced_at, keys_changed_at.label("keys_changed_at"),
    )
    writer = Writer(token_engine.begin, token_dialect, chunk_size)
    for row in source.keyset(query, old.c.uid, chunk_size):
        summary.users.read += 1
        if sync_services is not None and row.service not in sync_services:
            summary.users.skipped += 1
            continue
        record = {
            "uid": row.uid,
            "service": service_id,
            "email": row.email,
            "generation": row.generation,
            "client_state": row.client_state,
            "created_at": row.created_at,
            "replaced_at": row.replaced_at,
            "nodeid": node_id,
            "keys_changed_at": row.keys_changed_at,
        }
        writer.add(users, record, summary.users)
        summary.max_uid = max(summary.max_uid, row.uid)
    writer.flush()
    current_users = sa.select(sa.func.count()).select_from(users).where(
        users.c.nodeid == node_id, users.c.replaced_at.is_(None)
    )
    with token_engine.begin() as conn:
        conn.execute(sa.update(nodes).where(nodes.c.id == node_id).values(current_load=current_users.scalar_subquery()))


def _reserve_uids(token_engine: sa.Engine, max_uid: int) -> None:
    """Make the tokenserver hand out new uids above every imported one, so a
    new user never sees imported data. PostgreSQL's sequence ignores explicit
    ids; SQLite's AUTOINCREMENT and MySQL's AUTO_INCREMENT follow them, but
    not uids that have data without a user record."""
    name = token_engine.dialect.name
    with token_engine.begin() as conn:
        if name == "postgresql":
            conn.execute(
                sa.text("SELECT setval(pg_get_serial_sequence('users', 'uid'), GREATEST(:n, (SELECT COALESCE(MAX(uid), 0) FROM users), 1))"),
                {"n": max_uid},
            )
        elif name in ("mysql", "mariadb"):
            # never lowers it: InnoDB keeps AUTO_INCREMENT above MAX(uid)
            conn.execute(sa.text(f"ALTER TABLE users AUTO_INCREMENT = {int(max_uid) + 1}"))
        else:
            raised = conn.execute(
                sa.text("UPDATE sqlite_sequence SET seq = MAX(seq, :n) WHERE name = 'users'"), {"n": max_uid}
            ).rowcount
            if not raised:
                conn.execute(sa.text("INSERT INTO sqlite_sequence (name, seq) VALUES ('users', :n)"), {"n": max_uid})
