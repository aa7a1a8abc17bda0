"""The hot SQL statements, built once with bind parameters.

Building a SQLAlchemy `select()` per call cost as much as running it: a
read transaction took 622 µs of CPU with statements built per call and
304 µs with prebuilt ones (docs/performance.md, "Changes made", 3). So the
statements every sync request runs are built here once per storage (and
per bso table when sharded, per query shape for listings) and executed
with a parameter dict.

Bind parameter names: `uid`, `cid` (collection id), `item` (BSO id),
`now`, `now_s` (storage-model §4.4). They differ from column names, which
SQLAlchemy reserves for the VALUES / SET clauses of inserts and updates.
"""

from __future__ import annotations

from typing import NamedTuple

import sqlalchemy as sa

from .. import Sort
from .dialects import Dialect
from .schema import TOMBSTONE_COLLECTION, StorageTables

bind = sa.bindparam


class ListingShape(NamedTuple):
    """What makes two `find_items` queries need different SQL."""

    full: bool
    ids: bool
    newer: bool
    older: bool
    sort: Sort
    bound: bool  # an offset token's timestamp bound (storage-api §12)
    limit: bool
    skip: bool


class BSOStatements:
    """Single-item statements on one bso table."""

    def __init__(self, bso: sa.Table, dialect: Dialect):
        live_item = sa.and_(
            bso.c.userid == bind("uid"),
            bso.c.collection == bind("cid"),
            bso.c.id == bind("item"),
            bso.c.ttl > bind("now_s"),
        )
        self.item_timestamp = sa.select(bso.c.modified).where(live_item)
        self.get_item = sa.select(bso.c.id, bso.c.modified, bso.c.payload, bso.c.sortindex).where(
            live_item
        )
        self.delete_item = sa.delete(bso).where(live_item)
        # executed with {uid, cid, ids}
        self.delete_items = dialect.delete_by_ids(bso)


class Statements:
    """The statements of one storage; see the module docstring."""

    def __init__(self, tables: StorageTables, dialect: Dialect):
        self.dialect = dialect
        uc = tables.user_collections
        this_collection = sa.and_(uc.c.userid == bind("uid"), uc.c.collection == bind("cid"))
        last_modified = sa.select(uc.c.last_modified).where(this_collection)
        # the collection lock of storage-model §5 (shared for readers)
        self.lock = {write: dialect.lock(last_modified, write) for write in (False, True)}
        # executed with {userid, collection, last_modified} / {uid, cid, now}
        self.create_user_collection = dialect.insert_ignore(uc)
        self.touch = sa.update(uc).where(this_collection).values(last_modified=bind("now"))
        self.storage_timestamp = sa.select(sa.func.max(uc.c.last_modified)).where(
            uc.c.userid == bind("uid")
        )
        self.collection_timestamps = sa.select(uc.c.collection, uc.c.last_modified).where(
            uc.c.userid == bind("uid"), uc.c.collection != TOMBSTONE_COLLECTION
        )
        self._bso: dict[sa.Table, BSOStatements] = {}
        self._listings: dict[tuple[sa.Table, ListingShape], sa.Select] = {}
        self._upserts: dict[tuple[sa.Table, tuple[str, ...], tuple[str, ...]], sa.Insert] = {}

    def bso(self, table: sa.Table) -> BSOStatements:
        # a racing first build in two threads builds it twice: harmless
        statements = self._bso.get(table)
        if statements is None:
            statements = self._bso[table] = BSOStatements(table, self.dialect)
        return statements

    def upsert(self, table: sa.Table, keys: tuple[str, ...], changed: tuple[str, ...]) -> sa.Insert:
        """An executemany upsert of rows of `table` on the primary key `keys`
        that changes only the `changed` columns of an existing row. Building
        one (its `excluded` alias above all) cost more than a small POST's
        SQL: 5.5 % of the steady benchmark's CPU (docs/performance.md)."""
        key = (table, keys, changed)
        upsert = self._upserts.get(key)
        if upsert is None:
            upsert = self._upserts[key] = self.dialect.upsert(
                self.dialect.insert(table), list(keys), lambda incoming: {n: incoming[n] for n in changed}
            )
        return upsert

    def listing(self, table: sa.Table, shape: ListingShape) -> sa.Select:
        """The `find_items` query of one shape (storage-api §4.2 parameters);
        at most 2 x 2^6 shapes per table."""
        select = self._listings.get((table, shape))
        if select is None:
            select = self._listings[table, shape] = self._build_listing(table, shape)
        return select

    def _build_listing(self, table: sa.Table, shape: ListingShape) -> sa.Select:
        source, rows, condition = table, table, None
        if shape.ids:
            # ids= names at most a hundred items: fetch them by primary key
            # (how depends on the database), then sort
            source, rows, condition = self.dialect.rows_by_ids(table)
        columns = [rows.c.id, rows.c.modified, rows.c.sortindex]
        if shape.full:
            columns.insert(2, rows.c.payload)  # BSO's field order: the rows serve as BSOs (Page)
        select = (
            sa.select(*columns)
            .select_from(source)
            .where(
                rows.c.userid == bind("uid"),
                rows.c.collection == bind("cid"),
                rows.c.ttl > bind("now_s"),
            )
        )
        if condition is not None:
            select = select.where(condition)
        if shape.newer:
            select = select.where(rows.c.modified > bind("newer"))
        if shape.older:
            select = select.where(rows.c.modified < bind("older"))
        # storage-api §12: every order ends in id, so rows sharing a
        # timestamp keep a fixed order and a skip count is exact
        modified, sortindex = rows.c.modified, rows.c.sortindex
        if shape.ids:
            # Ordering by an expression stops SQLite from walking a whole
            # listing index just to avoid sorting the hundred rows
            # (100 of 100,000: 567 -> 1.3 ms, docs/performance.md).
            modified, sortindex = modified + 0, sortindex + 0
        if shape.sort is Sort.OLDEST:
            if shape.bound:
                select = select.where(rows.c.modified >= bind("bound"))
            select = select.order_by(modified.asc(), rows.c.id.asc())
        elif shape.sort is Sort.INDEX:
            select = select.order_by(self.dialect.sortindex_desc(sortindex), rows.c.id.desc())
        else:
            if shape.bound:
                select = select.where(rows.c.modified <= bind("bound"))
            select = select.order_by(modified.desc(), rows.c.id.desc())
        if shape.limit:
            select = select.limit(bind("limit", type_=sa.BigInteger))
        if shape.skip:
            select = select.offset(bind("skip", type_=sa.BigInteger))
        return select
