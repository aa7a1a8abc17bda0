"""The admin page's tables: the record of purges, sign-in sessions, hourly
activity, daily storage totals (syncstorage.admin, storage/sql/schema.py `purge_runs`).

Revision ID: 0005_admin_tables
Revises: 0004_accounts
Create Date: 2026-12-02

Spelled out here (not imported) so that this revision keeps creating exactly
these tables when the schema modules change later.
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0005_admin_tables"
down_revision = "0004_accounts"
branch_labels = None
depends_on = None

MYSQL: dict[str, Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4"}


def upgrade() -> None:
    op.create_table(
        "purge_runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("started_at", sa.BigInteger, nullable=False),
        sa.Column("finished_at", sa.BigInteger, nullable=False),
        sa.Column("expired_items", sa.BigInteger, nullable=False),
        sa.Column("stale_batches", sa.BigInteger, nullable=False),
        sa.Column("stale_batch_items", sa.BigInteger, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        **MYSQL,
    )
    op.create_table(
        "admin_sessions",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        **MYSQL,
    )
    op.create_table(
        "admin_activity_hours",
        sa.Column("hour", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("requests", sa.BigInteger, nullable=False),
        sa.Column("syncs", sa.BigInteger, nullable=False),
        **MYSQL,
    )
    op.create_table(
        "admin_storage_days",
        sa.Column("day", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("users", sa.BigInteger, nullable=False),
        sa.Column("items", sa.BigInteger, nullable=False),
        sa.Column("bytes", sa.BigInteger, nullable=False),
        **MYSQL,
    )


def downgrade() -> None:
    op.drop_table("admin_storage_days")
    op.drop_table("admin_activity_hours")
    op.drop_table("admin_sessions")
    op.drop_table("purge_runs")
