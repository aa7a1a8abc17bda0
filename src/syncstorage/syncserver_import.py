"""Copy a database of Mozilla's old Python `syncserver` into ours (issue 5 item 7).

The old server kept, in one SQLite or MySQL database, the storage tables of
server-syncstorage (`collections`, `user_collections`, `bso` or the shards
`bso0`..`bsoN`, batch tables) and the tokenserver tables (`users`, and in
later versions `services` and `nodes`). Most of its values mean what ours
mean: `ttl` is the absolute expiry in seconds with 2100000000 for "never" in
every version, and `users` has the columns of auth-and-tokens §8 (older
versions lack `keys_changed_at`).

What differs, and why this is a copy and not an in-place upgrade:
- collection ids: the old server numbered collections in the order they
  first appeared (or used fixed ids 1-13 without table rows when it ran with
  `standard_collections`); ours are fixed (storage-model §3.7), so ids are
  mapped by name;
- timestamps: integer ms (BIGINT) in later versions, DECIMAL(12,2) seconds in
  earlier ones; the unit is told by the values (`SECONDS_BELOW`);
- column types: an INTEGER `ttl` and `userid`, TEXT payloads (64 KiB on
  MySQL) and case-insensitive MySQL collations for ids;
- every user must point at this server's own node (its public_url).
The old database is only read (SQLite is opened read-only) and stays as the
backup. Uncommitted batch uploads are not copied: they live two hours and
clients restart an interrupted upload.

Everything that can make the source unusable is checked when it is opened,
before the target is touched (`open_source`), so a refused import leaves the
target as it was; a copy that fails later says what it left (`ImportSummary.left`).

The copy is idempotent: rows already in the target are kept as they are
(they come from an earlier run, or from the user's syncs since, which are
newer), so an interrupted import is simply run again. Reads use index-friendly queries
(one user, one collection, ids after the last seen) and writes go in chunks
of at most `chunk_size` rows, each its own short transaction.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal
from pathlib import Path
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from syncstorage import db
from syncstorage.logs import driver_error
from syncstorage.storage.sql import SQLStorage, migrate
from syncstorage.storage.sql.schema import FIRST_CUSTOM_COLLECTION_ID, MAX_TTL, STANDARD_COLLECTIONS
from syncstorage.tokenserver.store import ensure_node, ensure_service
from syncstorage.tokenserver.schema import SYNC_SERVICE, nodes, users

log = logging.getLogger("syncstorage.import")

ROWS_PER_STATEMENT = 100  # rows in one multi-row INSERT
_STANDARD_BY_ID = {cid: name for name, cid in STANDARD_COLLECTIONS.items()}
# A timestamp below this is seconds, one above it is ms: as ms it would be
# before March 1973, as seconds after the year 5000; neither was ever written.
SECONDS_BELOW = 10**11
# The columns read from each old table (`users.keys_changed_at` is optional).
_COLUMNS = {
    "collections": ("collectionid", "name"),
    "user_collections": ("userid", "collection", "last_modified"),
    "bso": ("userid", "collection", "id", "sortindex", "modified", "payload", "ttl"),
    "users": ("uid", "service", "email", "generation", "client_state", "created_at", "replaced_at"),
    "services": ("id", "service"),
}


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
    standard_ids: bool = False  # the source's ids 1-13 are the standard collections
    seconds: bool = False  # the source's timestamps are seconds
    new_collections: int = 0  # names this run added to the target
    node_registered: bool = False  # this run made sure the node record exists

    def lines(self) -> list[str]:
        def line(what: str, c: Counts, skipped: str) -> str:
            text = f"{what}: {c.read} read, {c.copied} copied, {c.present} already present"
            return text + (f", {c.skipped} skipped ({skipped})" if c.skipped else "")

        numbering = (
            "standard numbering: ids 1-13 are the standard collections"
            if self.standard_ids
            else "numbered in order of first appearance: an id without a name is an orphan"
        )
        return [
            f"collections: {len(self.collections)} mapped by name ({numbering})",
            *(["timestamps: seconds in the old database, converted to milliseconds"] if self.seconds else []),
            line("collection timestamps", self.user_collections, "unknown collection id"),
            line("items", self.items, "unknown collection id"),
            line("users", self.users, "not of the sync-1.5 service"),
            f"users are assigned to the node {self.node}",
        ]

    def left(self) -> str:
        """What a run that failed has written into the target."""
        written = [
            f"{count} {what}"
            for count, what in (
                (self.new_collections, "collection names"),
                (self.user_collections.copied, "collection timestamps"),
                (self.items.copied, "items"),
                (self.users.copied, "users"),
            )
            if count
        ] + ([f"the node record of {self.node}"] if self.node_registered else [])
        return ", ".join(written) or "no rows"


def _unreadable(exc: sa.exc.SQLAlchemyError) -> SourceProblem:
    return SourceProblem(driver_error(exc))


def _exact(value) -> Decimal:
    """A number as the old database holds it. SQLite keeps a DECIMAL(12,2)
    as a REAL; its shortest repr is the two-decimal text that was stored,
    so no binary float ever enters the arithmetic."""
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def _ms(value, scale: int) -> int:
    """An old timestamp (`scale` 1000 for seconds, 1 for ms) as integer ms, a
    multiple of 10 (storage-api §4), rounded up like the server's clock."""
    tens = (_exact(value) * scale / 10).to_integral_value(rounding=ROUND_CEILING)
    return int(tens) * 10


def _ttl(value) -> int:
    """The absolute expiry in whole seconds. Rounded up: for the whole-second
    "now" both servers compare with, `ttl > now` keeps its answer."""
    return MAX_TTL if value is None else int(_exact(value).to_integral_value(rounding=ROUND_CEILING))


def _raw(column: sa.Column) -> sa.Label:
    """A column as the driver returns it: a reflected NUMERIC would be turned
    into a Decimal through a float format, which can change the last digit."""
    return sa.type_coerce(column, sa.types.NullType()).label(column.name)


def has_syncserver_tables(url: str) -> bool:
    """Whether a database without our schema revision holds old storage
    tables (for the hint of `db upgrade` run on the old database itself)."""
    engine = migrate.migration_engine(url)
    try:
        names = set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()
    return "collections" in names and bool(names & {"bso", "bso0"})


def open_source(url: str, own_databases: dict[str, str]) -> Source:
    """The old database, opened so that it cannot change and checked to be
    one we can copy. `own_databases`: setting name -> URL of this server's
    databases, which are refused as the source."""
    try:
        parsed = make_url(url)
        _dialect, normalized = db.for_url(parsed, lock_timeout=10.0)
    except (sa.exc.ArgumentError, ValueError) as exc:
        raise SourceProblem(f"not a database URL: {exc}") from None
    for setting, own in own_databases.items():
        if db.same_database(parsed, make_url(own)):
            raise SourceProblem(f"this is this server's own database ({setting}); give the old server's sqluri")
    if parsed.get_backend_name() == "sqlite":
        path = Path(parsed.database or "")
        if not parsed.database or parsed.database == ":memory:":
            raise SourceProblem("the URL names no SQLite file")
        if path.is_dir():
            raise SourceProblem(f"{path} is a directory, not a SQLite file")
        if not path.exists():
            raise SourceProblem(f"{path} does not exist")
        uri = f"file:{path.resolve()}?mode=ro"
        engine = sa.create_engine("sqlite://", creator=lambda: sqlite3.connect(uri, uri=True))
    else:
        try:
            engine = sa.create_engine(normalized, pool_size=1, pool_pre_ping=True)
        except sa.exc.ArgumentError as exc:  # e.g. a +driver that is not installed
            raise SourceProblem(f"not a database URL: {exc}") from None
    try:
        return Source(engine)
    except BaseException:
        engine.dispose()
        raise


class Source:
    """The old database's tables, as they are (reflected, not assumed), and
    what its values mean: how it numbered collections, which time unit."""

    def __init__(self, engine: sa.Engine):
        self.engine = engine
        try:
            names = set(sa.inspect(engine).get_table_names())
        except sa.exc.SQLAlchemyError as exc:
            raise _unreadable(exc) from None
        if "alembic_version" in names:
            self._refuse_our_schema()
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
            try:
                table = sa.Table(name, metadata, autoload_with=engine)
            except sa.exc.SQLAlchemyError as exc:
                raise _unreadable(exc) from None
            absent = [c for c in _COLUMNS["bso" if name.startswith("bso") else name] if c not in table.c]
            if absent:
                raise SourceProblem(f"not a syncserver database: table {name} has no column {', '.join(absent)}")
            return table

        self.collections = reflect("collections")
        self.user_collections = reflect("user_collections")
        self.bso_tables = [reflect(n) for n in bso_names]
        self.users = reflect("users") if "users" in names else None
        self.services = reflect("services") if "services" in names else None
        self.names, self.standard_ids = self._collection_names()
        self.scale = self._timestamp_scale()

    def _refuse_our_schema(self) -> None:
        """A database with one of our schema revisions is this server's (or
        another one of ours): it has tables named like the old ones, and
        "copying" it would find every row already present."""
        revision = self.rows(sa.text("SELECT version_num FROM alembic_version"))
        if revision and migrate.is_known_revision(revision[0].version_num):
            raise SourceProblem(
                f"this database has this server's schema (revision {revision[0].version_num}),"
                " it is not one of Mozilla's syncserver; give the old server's sqluri"
            )

    def _collection_names(self) -> tuple[dict[int, str], bool]:
        """old id -> name, and whether ids 1-13 without a row are the standard
        collections: only when the source uses the standard numbering, i.e.
        no named collection below the first custom id disagrees with it. A
        source numbered by first appearance (meta=1, ...) leaves an unnamed
        id an orphan, whatever its value."""
        rows = self.rows(sa.select(self.collections.c.collectionid, self.collections.c.name))
        named = {row.collectionid: row.name for row in rows if row.name}  # "": the old placeholder row
        standard = all(
            _STANDARD_BY_ID.get(cid) == name for cid, name in named.items() if cid < FIRST_CUSTOM_COLLECTION_ID
        )
        return ({**_STANDARD_BY_ID, **named} if standard else named), standard

    def _timestamp_scale(self) -> int:
        """1000 when the timestamps are seconds, 1 when they are ms, judged
        from the smallest and largest of every timestamp column; a database
        holding both refuses (which unit would the rest be?)."""
        seconds = ms = None  # (value, where) of a value that can only be that unit
        for table, name in [(self.user_collections, "last_modified")] + [(t, "modified") for t in self.bso_tables]:
            column = _raw(table.c[name])
            for value in self.rows(sa.select(sa.func.min(column), sa.func.max(column)))[0]:
                if value is None:  # an empty table
                    continue
                if _exact(value) < SECONDS_BELOW:
                    seconds = seconds or (value, f"{table.name}.{name}")
                else:
                    ms = ms or (value, f"{table.name}.{name}")
        if seconds and ms:
            raise SourceProblem(
                f"the timestamps mix units: {seconds[1]} holds {_exact(seconds[0])}, which can only be seconds,"
                f" and {ms[1]} holds {_exact(ms[0])}, which can only be milliseconds"
                f" (the limit is {SECONDS_BELOW}); fix those rows in a copy of the database and import that"
            )
        return 1000 if seconds else 1

    def close(self) -> None:
        self.engine.dispose()

    def rows(self, query: sa.Executable) -> Sequence[sa.Row]:
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

    def __init__(self, transaction: Callable, dialect: db.Dialect, chunk_size: int):
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
    source: Source,
    storage: SQLStorage,
    token_engine: sa.Engine,
    summary: ImportSummary,
    node_capacity: int,
    chunk_size: int = 1000,
) -> None:
    """Copy storage rows and user records from the old database into
    `summary.node`'s server, counting in `summary`; see the module doc."""
    summary.standard_ids, summary.seconds = source.standard_ids, source.scale == 1000
    mapping = _collection_mapping(source, storage, summary)
    _copy_storage(source, storage, mapping, summary, chunk_size)
    if source.users is not None:
        _copy_users(source, token_engine, summary.node, node_capacity, summary, chunk_size)
    else:
        log.warning("the source has no users table: users get new uids and re-upload their data")
    _reserve_uids(token_engine, summary.max_uid)


def _collection_mapping(source: Source, storage: SQLStorage, summary: ImportSummary) -> dict[int, int]:
    """old collection id -> our id, by name (Source._collection_names)."""
    collections = storage.tables.collections
    mapping: dict[int, int] = {}
    with storage.transaction(write=True) as conn:
        for old_id, name in source.names.items():
            new_id = STANDARD_COLLECTIONS.get(name)
            if new_id is None:
                summary.new_collections += conn.execute(storage.dialect.insert_ignore(collections).values(name=name)).rowcount
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
        for row in source.rows(sa.select(old_uc.c.collection, _raw(old_uc.c.last_modified)).where(old_uc.c.userid == userid)):
            summary.user_collections.read += 1
            collection = mapping.get(row.collection)
            if collection is None:
                summary.user_collections.skipped += 1
                continue
            # Any: the items below share the name and hold strings too
            record: dict[str, Any] = {"userid": userid, "collection": collection, "last_modified": _ms(row.last_modified, source.scale)}
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
                    old_bso.c.id, old_bso.c.sortindex, _raw(old_bso.c.modified), old_bso.c.payload, _raw(old_bso.c.ttl)
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
                        "modified": _ms(row.modified, source.scale),
                        "payload": payload,
                        "payload_size": len(payload.encode("utf-8")),  # storage-model §3.4: bytes
                        "ttl": _ttl(row.ttl),
                    }
                    writer.add(target, record, summary.items)
            summary.max_uid = max(summary.max_uid, userid)
            log.info("copied the items of uid %d from %s (%d items so far)", userid, old_bso.name, summary.items.read)
    writer.flush()


def _copy_users(source: Source, token_engine: sa.Engine, node_url: str, node_capacity: int, summary: ImportSummary, chunk_size: int) -> None:
    """Copy user records with their uids; every one now points at this
    server's own node, whose load becomes the number of current users."""
    token_dialect, _ = db.for_url(token_engine.url, lock_timeout=10.0)
    service_id = ensure_service(token_engine).id
    ensure_node(token_engine, service_id, node_url, node_capacity)
    summary.node_registered = True
    own_node = sa.select(nodes.c.id).where(nodes.c.service == service_id, nodes.c.node == node_url)
    with token_engine.begin() as conn:
        node_id = conn.execute(own_node).scalar_one()
    sync_services = source.sync_service_ids()
    old = cast(sa.Table, source.users)  # called only when the source has one
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
    dialect, _ = db.for_url(token_engine.url, lock_timeout=10.0)
    with token_engine.begin() as conn:
        dialect.reserve_ids(conn, "users", "uid", max_uid)
