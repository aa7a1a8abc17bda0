"""The tokenserver tables of auth-and-tokens §8 (Mozilla's tokenserver schema).

Revision ID: 0002_tokenserver
Revises: 0001_storage
Create Date: 2026-11-27

History: this file keeps creating exactly this schema even if
`syncstorage.tokenserver.schema` changes later (that comes with a new
revision), so the tables are spelled out here. Column order matters:
operators' tools unpack `SELECT *` rows by position. No foreign keys.
The `sync-1.5` service row is inserted at server start-up, not here.

A table that already exists is left as it is: an existing Mozilla
tokenserver database (same tables) can be adopted by pointing
`tokenserver_database_url` at it and running `syncstorage db upgrade`.
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0002_tokenserver"
down_revision = "0001_storage"
branch_labels = None
depends_on = None

# Any: dialect options go to **kw; as dict[str, str] mypy would match them
# against the typed keywords (quote: bool, ...).
MYSQL: dict[str, Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4"}
# SQLite: INTEGER PRIMARY KEY (a rowid alias, so explicit and automatic ids
# both work) with AUTOINCREMENT (a deleted user's uid is never handed out again).
SQLITE = {"sqlite_autoincrement": True}
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "services" not in existing:
        _create_services()
    if "nodes" not in existing:
        _create_nodes()
    if "users" not in existing:
        _create_users()


def _create_services() -> None:
    op.create_table(
        "services",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("service", sa.String(30), unique=True),
        sa.Column("pattern", sa.String(128)),
        **MYSQL,
        **SQLITE,
    )


def _create_nodes() -> None:
    op.create_table(
        "nodes",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("service", sa.Integer, nullable=False),
        sa.Column("node", sa.String(64), nullable=False),
        sa.Column("available", sa.Integer, nullable=False),
        sa.Column("current_load", sa.Integer, nullable=False),
        sa.Column("capacity", sa.Integer, nullable=False),
        sa.Column("downed", sa.Integer, nullable=False),
        sa.Column("backoff", sa.Integer, nullable=False),
        sa.UniqueConstraint("service", "node", name="unique_idx"),
        **MYSQL,
        **SQLITE,
    )


def _create_users() -> None:
    op.create_table(
        "users",
        sa.Column("uid", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("service", sa.Integer, nullable=False),
        sa.Column("email", sa.String(255), nullable=False),
        sa.Column("generation", sa.BigInteger, nullable=False),
        sa.Column("client_state", sa.String(32), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("replaced_at", sa.BigInteger, nullable=True),
        sa.Column("nodeid", sa.BigInteger, nullable=False),
        sa.Column("keys_changed_at", sa.BigInteger, nullable=True),
        **MYSQL,
        **SQLITE,
    )
    op.create_index("lookup_idx", "users", ["email", "service", "created_at"])
    op.create_index("replaced_at_idx", "users", ["service", "replaced_at"])
    op.create_index("node_idx", "users", ["nodeid"])


def downgrade() -> None:
    op.drop_table("users")
    op.drop_table("nodes")
    op.drop_table("services")
