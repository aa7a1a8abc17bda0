"""The `migration` table of storage-model §3.8 / §9: which users are being
moved off this node (`syncstorage node migrate`, storage/sql/moves.py).

Revision ID: 0007_storage_migration_table
Revises: 0006_account_disabled
Create Date: 2026-12-02

Spelled out here (not imported) so that this revision keeps creating exactly
this table when the schema modules change later. It also inserts the row of
the empty fxa_uid, state 0: the lock every write session shares and a
migration takes alone while it marks a user (storage/sql/moves.py).
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0007_storage_migration_table"
down_revision = "0006_account_disabled"
branch_labels = None
depends_on = None

MYSQL: dict[str, Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4"}


def upgrade() -> None:
    migration = op.create_table(
        "migration",
        sa.Column("fxa_uid", sa.String(255), primary_key=True),
        sa.Column("started_at", sa.BigInteger, nullable=False),
        sa.Column("state", sa.SmallInteger, nullable=False, server_default="0"),
        **MYSQL,
    )
    op.bulk_insert(migration, [{"fxa_uid": "", "started_at": 0, "state": 0}])


def downgrade() -> None:
    op.drop_table("migration")
