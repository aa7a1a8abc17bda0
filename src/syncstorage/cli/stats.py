"""`syncstorage stats`: what the server holds, per collection.

Counts only live items (ttl in the future, as clients see them, storage-api
§11); expired rows waiting for `purge` are reported apart. Every number is
one aggregate query per table, in one short read transaction each.
"""

from __future__ import annotations

from dataclasses import dataclass

import click
import sqlalchemy as sa

from syncstorage.cli.common import config_option, settings_from
from syncstorage.cli.tables import format_time, print_table
from syncstorage.cli.user import open_storage
from syncstorage.storage.sql import SQLStorage
from syncstorage.storage.sql.schema import TOMBSTONE_COLLECTION
from syncstorage.timestamps import now_ms


@dataclass
class CollectionStats:
    users: int = 0
    items: int = 0
    bytes: int = 0
    last_modified: int = 0


def collect(storage: SQLStorage) -> tuple[dict[str, CollectionStats], int, int, int]:
    """(stats by collection name, users with data, expired items, last activity ms)."""
    tables, now_s = storage.tables, now_ms() // 1000
    uc = tables.user_collections
    by_id: dict[int, CollectionStats] = {}
    expired = 0
    with storage.transaction(write=False) as conn:
        names = dict(conn.execute(sa.select(tables.collections.c.collectionid, tables.collections.c.name)).all())
        for row in conn.execute(
            sa.select(uc.c.collection, sa.func.count(), sa.func.max(uc.c.last_modified))
            .where(uc.c.collection != TOMBSTONE_COLLECTION)
            .group_by(uc.c.collection)
        ):
            by_id[row[0]] = CollectionStats(users=row[1], last_modified=row[2])
        users = conn.execute(
            sa.select(sa.func.count(sa.distinct(uc.c.userid))).where(uc.c.collection != TOMBSTONE_COLLECTION)
        ).scalar_one()
        last_activity = conn.execute(sa.select(sa.func.max(uc.c.last_modified))).scalar() or 0
    for bso in tables.bso_tables:  # one table, or one per shard (storage-model §3.6)
        with storage.transaction(write=False) as conn:
            live = bso.c.ttl > now_s
            for collection, items, size in conn.execute(
                sa.select(bso.c.collection, sa.func.count(), sa.func.sum(bso.c.payload_size))
                .where(live)
                .group_by(bso.c.collection)
            ):
                stats = by_id.setdefault(collection, CollectionStats())
                stats.items += items
                stats.bytes += int(size or 0)  # some drivers give Decimal
            expired += conn.execute(sa.select(sa.func.count()).select_from(bso).where(~live)).scalar_one()
    by_name = {names.get(cid, f"#{cid}"): stats for cid, stats in by_id.items()}
    return by_name, users, expired, last_activity


@click.command()
@config_option
def stats(config_file) -> None:
    """Users, live items and bytes per collection, and the last activity.

    A table on a terminal, tab-separated lines otherwise."""
    storage = open_storage(settings_from(config_file))
    try:
        by_name, users, expired, last_activity = collect(storage)
    finally:
        storage.close()
    rows = [
        (name, s.users, s.items, s.bytes, format_time(s.last_modified))
        for name, s in sorted(by_name.items(), key=lambda kv: (-kv[1].bytes, kv[0]))
    ]
    rows.append(("total", users, sum(s.items for s in by_name.values()), sum(s.bytes for s in by_name.values()), format_time(last_activity)))
    print_table("storage by collection", ["collection", "users", "items", "bytes", "last modified"], rows)
    click.echo(f"expired items awaiting purge: {expired}")
