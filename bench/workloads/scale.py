"""Scale behaviour (issue 6, item 3): how each operation's cost grows with
the collection. One fresh user per size runs the big-collection workload
(newer fetch, ids= fetch, full paging pass, every answer verified), then a
known share of its records is expired and `SQLStorage.purge` is timed.

Expiry is written straight into the bso table (ttl in the past) through the
project's own SQLStorage tables: the API's smallest ttl is one second plus a
day of purge grace, too slow for a benchmark; purge itself is the server's code.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import sqlalchemy as sa

from bench.records import RecordFactory
from bench.target import Target
from bench.workloads import big_collection
from syncstorage.storage.sql.backend import SQLStorage

CHUNK = 1_000  # ids per UPDATE ... IN (...): under every backend's parameter limit


@dataclass
class Sizes:
    sizes: tuple[int, ...] = (1_000, 10_000, 100_000)
    expire_share: float = 0.1
    repeats: int = 10


async def run(target: Target, sizes: Sizes, database_url: str) -> dict:
    rows, errors, samples = [], 0, []
    storage = SQLStorage(database_url)
    try:
        for records in sizes.sizes:
            uid = target.first_uid  # big_collection takes the next user
            big = await big_collection.run(
                target, big_collection.Sizes(records=records, repeats=sizes.repeats)
            )
            purge = measure_purge(storage, uid, records, sizes.expire_share)
            errors += big["errors"] + purge.pop("errors")
            samples += big["error_samples"] + purge.pop("error_samples")
            rows.append({
                "records": records,
                "load_records_per_s": big["load_records_per_s"],
                "newer_fetch": big["newer_fetch"],
                "ids_fetch": big["ids_fetch"],
                "paging": big["paging"],
                "purge": purge,
            })  # fmt: skip
    finally:
        storage.close()
    return {"sizes": sizes.__dict__, "rows": rows, "errors": errors, "error_samples": samples[:5]}


def measure_purge(storage: SQLStorage, uid: int, records: int, share: float) -> dict:
    """Expire `share` of the user's records (the same ids the factory of
    big_collection made), purge with no grace, check exactly those went."""
    ids = [r.id for r in RecordFactory(seed=3).records(records)][:: round(1 / share)]
    names = storage.tables.collections
    with storage.engine.begin() as conn:
        collection = conn.execute(
            sa.select(names.c.collectionid).where(names.c.name == big_collection.COLLECTION)
        ).scalar_one()
        for table in storage.tables.bso_tables:
            for start in range(0, len(ids), CHUNK):
                conn.execute(
                    table.update()
                    # the whole primary key: without the collection MariaDB
                    # scanned all of the user's rows for every chunk
                    .where(
                        table.c.userid == uid,
                        table.c.collection == collection,
                        table.c.id.in_(ids[start : start + CHUNK]),
                    )
                    .values(ttl=0)
                )
    started = time.perf_counter()
    result = storage.purge(grace=0, max_per_loop=1_000, max_loops=1_000_000)
    seconds = time.perf_counter() - started
    with storage.engine.connect() as conn:
        left = sum(
            conn.execute(sa.select(sa.func.count()).where(table.c.userid == uid)).scalar_one()
            for table in storage.tables.bso_tables
        )
    problems = []
    if result.expired_items != len(ids):
        problems.append(f"purge removed {result.expired_items} rows, expected {len(ids)}")
    if left != records - len(ids):
        problems.append(f"{left} rows left for user {uid}, expected {records - len(ids)}")
    return {
        "expired": result.expired_items,
        "seconds": seconds,
        "rows_per_s": result.expired_items / seconds if seconds else 0.0,
        "errors": len(problems),
        "error_samples": problems,
    }
