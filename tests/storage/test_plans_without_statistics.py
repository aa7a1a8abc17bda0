"""Query plans that do not depend on planner statistics (issue 6).

A new database, or a collection that just grew by 100,000 records before
auto-analyze, has no (or stale) statistics. PostgreSQL then expected about
one row per (userid, collection) and served `ids=` and the batch commit's
merge by walking a listing index over the whole collection with the ids as
a filter (docs/performance.md, "Scale behaviour"): 496 ms for 100 ids at
100,000 records, tens of seconds per 10,000-record commit. These tests load
a collection into a never-analyzed table (or one analyzed while it was
small) and check from EXPLAIN that both reach bso by its primary key only.
MariaDB runs the same checks on its own plans.
"""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from support.storage import executed_statements, read, write
from syncstorage.storage import BSO, BSOUpdate, ItemQuery
from syncstorage.storage.sql import SQLStorage, migrate

RECORDS = 20_000  # enough pages that a walk of the collection is not free
USER = 1000
LISTING_INDEXES = ("bso_usr_col_mod_idx", "bso_usr_col_sortindex_idx")


@pytest.fixture(params=["postgresql", "mysql"])
def backend_name(request) -> str:
    return request.param


@pytest.fixture(params=["never analyzed", "analyzed while small"])
def storage(request, database_url, backend_name):
    """A big collection (user 1000, history) in a table whose statistics
    do not describe it."""
    migrate.upgrade(database_url)
    storage = SQLStorage(database_url)
    if backend_name == "postgresql":
        with storage.engine.begin() as conn:
            for table in ("bso", "batch_upload_items"):  # no auto-analyze mid-test
                conn.exec_driver_sql(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")
    if request.param == "analyzed while small":
        # statistics of many users with a few records each, taken before
        # user 1000 (a new user: above every userid analyzed) existed
        for userid in range(1, 101):
            write(storage, userid, "history", lambda s: s.set_items([BSOUpdate("a"), BSOUpdate("b")]))
        with storage.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE bso" if backend_name == "postgresql" else "ANALYZE TABLE bso")
    items = [BSOUpdate(f"{n:08}", payload="p" * 100, sortindex=n % 100) for n in range(RECORDS)]
    write(storage, USER, "history", lambda s: s.set_items(items))
    yield storage
    storage.close()


def _explained(storage, backend_name, run, wanted) -> tuple[list[str], object]:
    """The plans of the statements `run` executes whose SQL starts with
    `wanted` (PostgreSQL's EXPLAIN text, or MariaDB's EXPLAIN rows as
    "table type key" lines), and what `run` returned."""
    with executed_statements(storage) as statements:
        result = run()
    plans = []
    with storage.engine.connect() as conn:
        for statement, parameters in statements:
            if not statement.lstrip().startswith(wanted):
                continue
            rows = conn.exec_driver_sql("EXPLAIN " + statement, parameters).mappings().all()
            if backend_name == "postgresql":
                plans.append("\n".join(row["QUERY PLAN"] for row in rows))
            else:
                plans.append("\n".join(f"{row['table']} {row['type']} {row['key']}" for row in rows))
        conn.rollback()
    return plans, result


def test_ids_fetch_uses_the_primary_key(storage, backend_name):
    wanted = [f"{n:08}" for n in range(0, RECORDS, RECORDS // 100)][:98] + ["missing"]
    wanted.append(wanted[0])  # ids=a,a names one item
    query = ItemQuery(ids=wanted, full=True)
    (plan,), page = _explained(
        storage, backend_name, lambda: read(storage, USER, "history", lambda s: s.find_items(query)), "SELECT bso"
    )
    assert sorted(item.id for item in page.items) == sorted(set(wanted) - {"missing"})
    if backend_name == "postgresql":
        # a lookup of one id, not a walk of the collection's key prefix
        pk_lookup = r"Index Scan (Backward )?using bso_pkey on bso.*\n\s+Index Cond: .*\(id\)"
        assert re.search(pk_lookup, plan), plan
    else:
        assert "bso range PRIMARY" in plan, plan
    assert not any(index in plan for index in LISTING_INDEXES), plan


def test_delete_by_ids_uses_the_primary_key(storage, backend_name):
    doomed = [f"{n:08}" for n in range(0, RECORDS, RECORDS // 100)] + ["missing"]
    (plan,), _ = _explained(
        storage,
        backend_name,
        lambda: write(storage, USER, "history", lambda s: s.delete_items(doomed)),
        "DELETE FROM bso ",
    )
    if backend_name == "postgresql":
        # found by primary key once (InitPlan), deleted by ctid
        assert "Tid Scan on bso" in plan, plan
        pk_lookup = r"Index Scan (Backward )?using bso_pkey on bso.*\n\s+Index Cond: .*\(id\)"
        assert re.search(pk_lookup, plan), plan
    else:
        assert "bso range PRIMARY" in plan, plan
    assert not any(index in plan for index in LISTING_INDEXES), plan
    left = read(storage, USER, "history", lambda s: s.collection_counts())
    assert left == {"history": RECORDS - 100}


def test_batch_commit_merges_by_primary_key(storage, backend_name):
    # half the staged items are stored already, half are new
    staged = [BSOUpdate(f"{n:08}", sortindex=7) for n in range(RECORDS - 1000, RECORDS + 1000)]
    batch = write(storage, USER, "history", lambda s: s.create_batch())
    write(storage, USER, "history", lambda s: s.append_to_batch(batch, staged))
    (plan,), now = _explained(
        storage,
        backend_name,
        lambda: write(storage, USER, "history", lambda s: s.commit_batch(batch)),
        "INSERT INTO bso ",
    )
    if backend_name == "postgresql":
        # the stored row is the one ON CONFLICT finds through the primary
        # key: bso is not scanned by a planned join at all
        assert "Conflict Arbiter Indexes: bso_pkey" in plan, plan
        assert " on bso " not in plan.replace("Insert on bso ", ""), plan
    else:
        assert "existing eq_ref PRIMARY" in plan, plan
    assert not any(index in plan for index in LISTING_INDEXES), plan
    stored, new = f"{RECORDS - 1:08}", f"{RECORDS:08}"
    assert read(storage, USER, "history", lambda s: s.get_item(stored)) == BSO(stored, now, "p" * 100, 7)
    assert read(storage, USER, "history", lambda s: s.get_item(new)) == BSO(new, now, "", 7)
