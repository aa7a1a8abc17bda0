"""The accounts server's confirmation codes (syncstorage.accounts.confirm).

Revision ID: 0008_account_codes
Revises: 0007_storage_migration_table
Create Date: 2026-12-02

Spelled out here (not imported) so that this revision keeps creating exactly
this table when the schema modules change later.
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0008_account_codes"
down_revision = "0007_storage_migration_table"
branch_labels = None
depends_on = None

MYSQL: dict[str, Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4"}


def upgrade() -> None:
    op.create_table(
        "account_codes",
        sa.Column("session_token_id", sa.String(64), primary_key=True),
        sa.Column("uid", sa.String(32), nullable=False, index=True),
        sa.Column("key_fetch_token_id", sa.String(64), nullable=True),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("sends", sa.Integer, nullable=False),
        sa.Column("sent_at", sa.BigInteger, nullable=False),
        **MYSQL,
    )


def downgrade() -> None:
    op.drop_table("account_codes")
