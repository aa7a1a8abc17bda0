"""Accounts the operator disabled (admin page, `syncstorage account disable`):
when, or NULL for an account in use.

Revision ID: 0006_account_disabled
Revises: 0005_admin_tables
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_account_disabled"
down_revision = "0005_admin_tables"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # nullable, no default: a metadata-only change on every database
    op.add_column("accounts", sa.Column("disabled_at", sa.BigInteger, nullable=True))


def downgrade() -> None:
    op.drop_column("accounts", "disabled_at")
