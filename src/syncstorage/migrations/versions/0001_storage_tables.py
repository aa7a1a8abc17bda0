"""The storage tables of storage-model §3, seeded with the standard collections.

Revision ID: 0001_storage
Revises:
Create Date: 2026-11-27

This file is history: it must keep creating exactly the first schema even
when `syncstorage.storage.sql.schema` changes later (a change there comes
with a new revision). It therefore spells its tables out instead of using
schema.py; only the column types and constants are shared.
The sharded layout (storage-model §3.6) is chosen by the `shard` and
`shardsize` attributes that `migrate.upgrade` puts into the Alembic config.
"""

from typing import Any

import sqlalchemy as sa
from alembic import context, op

from syncstorage.db.types import id_string, payload_text
from syncstorage.storage.sql.schema import MAX_TTL, STANDARD_COLLECTIONS

revision = "0001_storage"
down_revision = None
branch_labels = None
depends_on = None

# Any: dialect options go to **kw; as dict[str, str] mypy would match them
# against the typed keywords (quote: bool, ...).
MYSQL: dict[str, Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4"}
FIRST_CUSTOM_ID = 100  # storage-model §4.1


def _shard_suffixes() -> list[str]:
    attributes = context.config.attributes
    if not attributes.get("shard", False):
        return [""]
    return [str(n) for n in range(attributes.get("shardsize", 100))]


def upgrade() -> None:
    collections = op.create_table(
        "collections",
        sa.Column(
            "collectionid", sa.Integer, sa.Identity(start=FIRST_CUSTOM_ID), primary_key=True
        ),
        sa.Column("name", id_string(32), nullable=False, unique=True),
        **MYSQL,
    )
    op.create_table(
        "user_collections",
        sa.Column("userid", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("collection", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("last_modified", sa.BigInteger, nullable=False),
        **MYSQL,
    )
    op.create_table(
        "batch_uploads",
        sa.Column("batch", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("userid", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("collection", sa.Integer, nullable=False),
        **MYSQL,
    )
    for suffix in _shard_suffixes():
        bso = f"bso{suffix}"
        op.create_table(
            bso,
            sa.Column("userid", sa.BigInteger, primary_key=True, autoincrement=False),
            sa.Column("collection", sa.Integer, primary_key=True, autoincrement=False),
            sa.Column("id", id_string(64), primary_key=True),
            sa.Column("sortindex", sa.Integer, nullable=True),
            sa.Column("modified", sa.BigInteger, nullable=False),
            sa.Column("payload", payload_text(), nullable=False),
            sa.Column("payload_size", sa.Integer, nullable=False, server_default="0"),
            sa.Column("ttl", sa.BigInteger, nullable=False, server_default=str(MAX_TTL)),
            **MYSQL,
        )
        op.create_index(f"{bso}_ttl_idx", bso, ["ttl"])
        op.create_index(f"{bso}_usr_col_mod_idx", bso, ["userid", "collection", "modified"])
        op.create_table(
            f"batch_upload_items{suffix}",
            sa.Column("batch", sa.BigInteger, primary_key=True, autoincrement=False),
            sa.Column("userid", sa.BigInteger, primary_key=True, autoincrement=False),
            sa.Column("id", id_string(64), primary_key=True),
            sa.Column("sortindex", sa.Integer, nullable=True),
            sa.Column("payload", payload_text(), nullable=True),
            sa.Column("payload_size", sa.Integer, nullable=True),
            sa.Column("ttl_offset", sa.Integer, nullable=True),
            **MYSQL,
        )
    # storage-model §4.1: standard ids 1-13, and a placeholder row 99 with the
    # empty name so SQLite's and MySQL's autoincrement continue at 100
    # (PostgreSQL's identity starts at 100 by itself).
    rows = [{"collectionid": cid, "name": name} for name, cid in STANDARD_COLLECTIONS.items()]
    rows.append({"collectionid": FIRST_CUSTOM_ID - 1, "name": ""})
    op.bulk_insert(collections, rows)


def downgrade() -> None:
    for suffix in _shard_suffixes():
        op.drop_table(f"batch_upload_items{suffix}")
        op.drop_table(f"bso{suffix}")
    op.drop_table("batch_uploads")
    op.drop_table("user_collections")
    op.drop_table("collections")
