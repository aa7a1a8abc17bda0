"""Every statement storage builds from its tables, in one place: the hot
ones, built once with bind parameters, and the BSO lookups by primary key
whose form depends on the database's planner (`KeyLookups`).

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

from collections.abc import Mapping
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from syncstorage.db import Dialect
from syncstorage.db.compiled import Compiled
from .. import Sort
from .schema import BSO_KEY, StorageTables

bind = sa.bindparam
Names = tuple[str, ...]


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

    def __init__(self, bso: sa.Table, lookups: KeyLookups, sql_dialect: sa.engine.Dialect):
        live_item = sa.and_(
            bso.c.userid == bind("uid"),
            bso.c.collection == bind("cid"),
            bso.c.id == bind("item"),
            bso.c.ttl > bind("now_s"),
        )
        self.item_timestamp = Compiled(sa.select(bso.c.modified).where(live_item), sql_dialect)
        self.get_item = Compiled(
            sa.select(bso.c.id, bso.c.modified, bso.c.payload, bso.c.sortindex).where(live_item),
            sql_dialect,
        )
        self.delete_item = Compiled(sa.delete(bso).where(live_item), sql_dialect)
        # executed with {uid, cid, ids}
        self.delete_items = lookups.delete_by_ids(bso)


class Statements:
    """The statements of one storage; see the module docstring."""

    def __init__(self, tables: StorageTables, dialect: Dialect, sql_dialect: sa.engine.Dialect):
        """`sql_dialect`: the engine's SQLAlchemy dialect, which the hot
        statements are compiled for (`syncstorage.db.compiled`)."""
        self.dialect = dialect
        self.sql_dialect = sql_dialect
        self.lookups = KeyLookups(dialect) if dialect.stable_key_plans else PinnedKeyLookups(dialect)
        uc = tables.user_collections
        this_collection = sa.and_(uc.c.userid == bind("uid"), uc.c.collection == bind("cid"))
        last_modified = sa.select(uc.c.last_modified).where(this_collection)
        # the collection lock of storage-model §5 (shared for readers)
        self.lock = {
            write: Compiled(dialect.lock(last_modified, write), sql_dialect) for write in (False, True)
        }
        # executed with {userid, collection, last_modified} / {uid, cid, now}
        self.create_user_collection = Compiled(
            dialect.insert_ignore(uc), sql_dialect, ["userid", "collection", "last_modified"]
        )
        self.touch = Compiled(
            sa.update(uc).where(this_collection).values(last_modified=bind("now")), sql_dialect
        )
        self.storage_timestamp = Compiled(
            sa.select(sa.func.max(uc.c.last_modified)).where(uc.c.userid == bind("uid")), sql_dialect
        )
        # the tombstone's row too: the storage timestamp is their maximum
        self.user_timestamps = Compiled(
            sa.select(uc.c.collection, uc.c.last_modified).where(uc.c.userid == bind("uid")),
            sql_dialect,
        )
        self._bso: dict[sa.Table, BSOStatements] = {}
        self._listings: dict[tuple[sa.Table, ListingShape], sa.Select | Compiled] = {}
        self._upserts: dict[tuple[sa.Table, Names, Names, Names], Compiled] = {}

    def bso(self, table: sa.Table) -> BSOStatements:
        # a racing first build in two threads builds it twice: harmless
        statements = self._bso.get(table)
        if statements is None:
            statements = self._bso[table] = BSOStatements(table, self.lookups, self.sql_dialect)
        return statements

    def upsert(
        self, table: sa.Table, keys: tuple[str, ...], changed: tuple[str, ...], columns: tuple[str, ...]
    ) -> Compiled:
        """An executemany upsert of rows of `table` (with the keys `columns`)
        on the primary key `keys` that changes only the `changed` columns of
        an existing row. Building one (its `excluded` alias above all) cost
        more than a small POST's SQL: 5.5 % of the steady benchmark's CPU
        (docs/performance.md)."""
        key = (table, keys, changed, columns)
        upsert = self._upserts.get(key)
        if upsert is None:
            statement = self.dialect.upsert(
                self.dialect.insert(table), list(keys), lambda incoming: {n: incoming[n] for n in changed}
            )
            upsert = self._upserts[key] = Compiled(statement, self.sql_dialect, columns)
        return upsert

    def listing(self, table: sa.Table, shape: ListingShape) -> sa.Select | Compiled:
        """The `find_items` query of one shape (storage-api §4.2 parameters);
        at most 2 x 2^6 shapes per table. Compiled for the driver, except
        the `ids=` shapes, whose IN list SQLAlchemy expands per call."""
        select = self._listings.get((table, shape))
        if select is None:
            built = self._build_listing(table, shape)
            select = self._listings[table, shape] = (
                built if shape.ids else Compiled(built, self.sql_dialect)
            )
        return select

    def _build_listing(self, table: sa.Table, shape: ListingShape) -> sa.Select:
        source: sa.FromClause = table
        rows: sa.FromClause = table
        condition: sa.ColumnElement | None = None
        if shape.ids:
            # ids= names at most a hundred items: fetch them by primary key
            # (how depends on the database), then sort
            source, rows, condition = self.lookups.rows_by_ids(table)
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
        modified: sa.ColumnElement = rows.c.modified
        sortindex: sa.ColumnElement = rows.c.sortindex
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


# --- bso rows by primary key --------------------------------------------------------


class KeyLookups:
    """`rows_by_ids`, `delete_by_ids` and `merge_staged` in their plain forms
    (`id IN (...)`, a LEFT JOIN to the stored rows), for databases whose
    planner reaches bso by its primary key on its own
    (`Dialect.stable_key_plans`: SQLite, InnoDB; MariaDB has no LATERAL
    either); docs/performance.md."""

    def __init__(self, dialect: Dialect):
        self.dialect = dialect

    def rows_by_ids(
        self, table: sa.Table
    ) -> tuple[sa.FromClause, sa.FromClause, sa.ColumnElement | None]:
        """The rows of `table` in collection `cid` of user `uid` whose id is
        in the bind parameter `ids` (a list, storage-api §4.2 ids=), as
        (FROM clause, rows, condition): select `rows.c.*` from the FROM
        clause where the condition (if any) holds."""
        return table, table, table.c.id.in_(sa.bindparam("ids", expanding=True))

    def delete_by_ids(self, table: sa.Table) -> sa.Delete:
        """DELETE the rows `rows_by_ids` names (same bind parameters)."""
        return sa.delete(table).where(
            table.c.userid == sa.bindparam("uid"),
            table.c.collection == sa.bindparam("cid"),
            table.c.id.in_(sa.bindparam("ids", expanding=True)),
        )

    def merge_staged(
        self,
        bso: sa.Table,
        items: sa.Table,
        this_batch: sa.ColumnElement,
        fixed: Mapping[str, Any],
        staged: Mapping[str, Any],
        defaults: Mapping[str, Any],
    ) -> sa.Insert:
        """The batch commit's merge (storage-model §7.3): upsert the rows of
        `items` matching `this_batch` into `bso` on its primary key.

        `fixed` maps the columns with one value for new and stored rows
        (userid, collection, id, modified) to it; `staged` maps the merged
        columns to the staged value, NULL where it was not supplied;
        `defaults` gives a new row's value where nothing was supplied. A
        stored row (expired-but-unpurged ones too) keeps what was not
        supplied.

        Here every column is computed in the SELECT, against the stored row
        joined by primary key; the upsert then copies them."""
        existing = bso.alias("existing")
        source = (
            sa.select(
                *fixed.values(),
                *(_or_default([staged[c], existing.c[c]], defaults[c]) for c in staged),
            )
            .select_from(
                items.outerjoin(existing, sa.and_(*(existing.c[k] == fixed[k] for k in BSO_KEY)))
            )
            .where(this_batch)
        )
        columns = [*fixed, *staged]
        return self.dialect.upsert(
            self.dialect.insert(bso).from_select(columns, source),
            list(BSO_KEY),
            lambda incoming: {c: incoming[c] for c in columns if c not in BSO_KEY},
        )


class PinnedKeyLookups(KeyLookups):
    """The same statements in PostgreSQL forms whose plan does not depend on
    statistics.

    PostgreSQL plans a join or an `id IN (...)` on bso by estimated row
    counts. On a table whose statistics are missing or stale (a new
    database, a collection that just grew by 100,000 records before
    auto-analyze) it expects about one row per (userid, collection) and
    walks a listing index over the whole collection, filtering by id: ids=
    of 100 took 496 ms at 100,000 records, and a 10,000-record batch commit
    tens of seconds, growing with the collection (docs/performance.md,
    "Scale behaviour"). These forms leave the planner no such choice."""

    def rows_by_ids(self, table):
        """Per id, a LATERAL subquery takes the last row at or before
        (userid, collection, id) in primary-key order (`ORDER BY ... DESC
        LIMIT 1`), and the condition keeps it if it is that item. Only the
        primary key returns rows in that order; any other index would have
        to sort every row it reads, and the planner estimates those rows
        from `userid <= uid` (a third of the table without statistics;
        nearly all of it for a new user, whose id is the highest), not as
        "about one row", so a sort never looks cheap. With `userid = ... AND
        collection = ... AND id = ...` every index ties at one row on a
        table without statistics, and PostgreSQL took a listing index
        (docs/performance.md, "Scale behaviour"). LIMIT also keeps the
        subquery from being flattened into a join that could walk the whole
        collection once. What remains: statistics that put no row at or
        below this user (an old user with no records when they were taken)
        bring back the tie."""
        ids = sa.bindparam("ids", type_=postgresql.ARRAY(sa.String))
        # DISTINCT: ids=a,a names one item, as `id IN (...)` does
        wanted = sa.select(sa.func.unnest(ids).label("id")).distinct().subquery("wanted")
        key = [table.c.userid, table.c.collection, table.c.id]
        uid, cid = sa.bindparam("uid", type_=sa.BigInteger), sa.bindparam("cid", type_=sa.Integer)
        row = (
            sa.select(table, sa.literal_column("ctid"))  # ctid: see delete_by_ids
            .where(sa.tuple_(*key) <= sa.tuple_(uid, cid, wanted.c.id))
            .order_by(*(column.desc() for column in key))
            .limit(sa.literal_column("1"))  # a literal: a generic plan knows it too
            .lateral(f"{table.name}_row")
        )
        condition = sa.and_(
            row.c.userid == uid, row.c.collection == cid, row.c.id == wanted.c.id
        )
        return wanted.join(row, sa.true()), row, condition

    def delete_by_ids(self, table):
        """The rows are found as in `rows_by_ids`, once (an InitPlan), and
        deleted by their ctids, which only a TID scan serves; `id IN (...)`
        walked the collection like the listing did."""
        source, rows, condition = self.rows_by_ids(table)
        found = sa.select(rows.c.ctid).select_from(source).where(condition)
        ctids = sa.func.array(found.scalar_subquery())
        return sa.delete(table).where(sa.literal_column("ctid") == sa.any_(ctids))

    def merge_staged(self, bso, items, this_batch, fixed, staged, defaults):
        """Insert the staged rows alone and merge in ON CONFLICT DO UPDATE,
        where the stored row is the conflicting one, found through the
        primary key by the upsert itself, not by a planned join. The update
        looks up what was supplied in the staged row by its primary key
        (batch, userid, id), the only index of `items`. A column whose
        default is NULL says itself whether it was supplied."""
        columns = [*fixed, *staged]
        source = sa.select(
            *fixed.values(), *(_or_default([staged[c]], defaults[c]) for c in staged)
        ).where(this_batch)

        # SQLAlchemy would add `excluded` to the subquery's FROM list: name
        # the row ON CONFLICT proposed as PostgreSQL does
        excluded_id = sa.literal_column("excluded.id", bso.c.id.type)

        def merged(incoming):
            changes = {c: incoming[c] for c in fixed if c not in BSO_KEY}
            for c in staged:
                if defaults[c] is None:
                    supplied = incoming[c]
                else:
                    supplied = (
                        sa.select(staged[c])
                        .where(this_batch, items.c.id == excluded_id)
                        .scalar_subquery()
                    )
                changes[c] = sa.func.coalesce(supplied, bso.c[c])
            return changes

        return self.dialect.upsert(
            self.dialect.insert(bso).from_select(columns, source), list(BSO_KEY), merged
        )


def _or_default(values: list[sa.ColumnElement], default: Any) -> sa.ColumnElement:
    """The first non-NULL of `values`, then `default` (if not None)."""
    if default is not None:
        values = [*values, default]
    return values[0] if len(values) == 1 else sa.func.coalesce(*values)
