"""The storage tables (storage-model §3), their constants, and the shard hook.

The tables are created by the Alembic migrations (syncstorage/migrations);
this module describes the current schema for the queries, and a test checks
that a migrated database matches it exactly.

`StorageTables` is the only place that knows table names: with sharding on
(storage-model §3.6) `bso` and `batch_upload_items` exist once per shard and
every query asks `bso_for(userid)` / `items_for(batch)` for its table.

Column types that differ per database (binary-collated ids, MEDIUMTEXT
payloads) come from `db/types.py`.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from syncstorage.db.types import id_string, payload_text

# storage-model §2 / §3.7
STANDARD_COLLECTIONS: dict[str, int] = {
    "clients": 1,
    "crypto": 2,
    "forms": 3,
    "history": 4,
    "keys": 5,
    "meta": 6,
    "bookmarks": 7,
    "prefs": 8,
    "tabs": 9,
    "passwords": 10,
    "addons": 11,
    "addresses": 12,
    "creditcards": 13,
}
FIRST_CUSTOM_COLLECTION_ID = 100
TOMBSTONE_COLLECTION = 0  # storage-model §3.2 Decision
MAX_TTL = 2_100_000_000  # seconds since epoch: "never expires"
BSO_KEY = ("userid", "collection", "id")  # the bso primary key
BATCH_LIFETIME_MS = 7200 * 1000
DEFAULT_SHARDSIZE = 100

# Any: dialect options go to **kw; as dict[str, str] mypy would match them
# against the typed keywords (quote: bool, ...).
_MYSQL: dict[str, Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4"}


def _bso_table(metadata: sa.MetaData, name: str) -> sa.Table:
    return sa.Table(
        name,
        metadata,
        sa.Column("userid", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("collection", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("id", id_string(64), primary_key=True),
        sa.Column("sortindex", sa.Integer, nullable=True),
        sa.Column("modified", sa.BigInteger, nullable=False),
        sa.Column("payload", payload_text(), nullable=False),
        sa.Column("payload_size", sa.Integer, nullable=False, server_default="0"),
        sa.Column("ttl", sa.BigInteger, nullable=False, server_default=str(MAX_TTL)),
        sa.Index(f"{name}_ttl_idx", "ttl"),
        # listing orders served by the index alone (migration 0003)
        sa.Index(f"{name}_usr_col_mod_idx", "userid", "collection", "modified", "id", "ttl"),
        sa.Index(f"{name}_usr_col_sortindex_idx", "userid", "collection", "sortindex", "id", "ttl"),
        **_MYSQL,
    )


def _batch_items_table(metadata: sa.MetaData, name: str) -> sa.Table:
    return sa.Table(
        name,
        metadata,
        sa.Column("batch", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("userid", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("id", id_string(64), primary_key=True),
        sa.Column("sortindex", sa.Integer, nullable=True),
        sa.Column("payload", payload_text(), nullable=True),
        sa.Column("payload_size", sa.Integer, nullable=True),
        sa.Column("ttl_offset", sa.Integer, nullable=True),
        **_MYSQL,
    )


class StorageTables:
    """The tables of one deployment, sharded or not."""

    def __init__(self, *, shard: bool = False, shardsize: int = DEFAULT_SHARDSIZE):
        if shard and shardsize < 1:
            raise ValueError("shardsize must be at least 1")
        self.shard = shard
        self.shardsize = shardsize if shard else 1
        self.metadata = sa.MetaData()
        self.collections = sa.Table(
            "collections",
            self.metadata,
            sa.Column(
                "collectionid",
                sa.Integer,
                sa.Identity(start=FIRST_CUSTOM_COLLECTION_ID),
                primary_key=True,
            ),
            sa.Column("name", id_string(32), nullable=False, unique=True),
            **_MYSQL,
        )
        self.user_collections = sa.Table(
            "user_collections",
            self.metadata,
            sa.Column("userid", sa.BigInteger, primary_key=True, autoincrement=False),
            sa.Column("collection", sa.Integer, primary_key=True, autoincrement=False),
            sa.Column("last_modified", sa.BigInteger, nullable=False),
            **_MYSQL,
        )
        self.batch_uploads = sa.Table(
            "batch_uploads",
            self.metadata,
            sa.Column("batch", sa.BigInteger, primary_key=True, autoincrement=False),
            sa.Column("userid", sa.BigInteger, primary_key=True, autoincrement=False),
            sa.Column("collection", sa.Integer, nullable=False),
            **_MYSQL,
        )
        # the last purges and what they removed, for the admin page (migration 0005)
        self.purge_runs = sa.Table(
            "purge_runs",
            self.metadata,
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("started_at", sa.BigInteger, nullable=False),  # ms
            sa.Column("finished_at", sa.BigInteger, nullable=False),  # ms
            sa.Column("expired_items", sa.BigInteger, nullable=False),
            sa.Column("stale_batches", sa.BigInteger, nullable=False),
            sa.Column("stale_batch_items", sa.BigInteger, nullable=False),
            sa.Column("source", sa.String(16), nullable=False),  # background, command, admin
            **_MYSQL,
        )
        # users being moved off this node (storage-model §3.8, §9; migration
        # 0006; storage/sql/moves.py): state 1 while moving, 2 once moved
        self.migration = sa.Table(
            "migration",
            self.metadata,
            sa.Column("fxa_uid", sa.String(255), primary_key=True),
            sa.Column("started_at", sa.BigInteger, nullable=False),  # ms
            sa.Column("state", sa.SmallInteger, nullable=False, server_default="0"),
            **_MYSQL,
        )
        if shard:
            self.bso_tables = [_bso_table(self.metadata, f"bso{n}") for n in range(shardsize)]
            self.item_tables = [
                _batch_items_table(self.metadata, f"batch_upload_items{n}")
                for n in range(shardsize)
            ]
        else:
            self.bso_tables = [_bso_table(self.metadata, "bso")]
            self.item_tables = [_batch_items_table(self.metadata, "batch_upload_items")]

    # --- the shard hook (storage-model §3.6) ---
    def bso_for(self, userid: int) -> sa.Table:
        return self.bso_tables[userid % self.shardsize]

    def items_for(self, batch: int) -> sa.Table:
        return self.item_tables[batch % self.shardsize]
