"""The built-in accounts server's tables (spec accounts.md §4.3-§6).

Revision ID: 0004_accounts
Revises: 0003_bso_indexes
Create Date: 2026-12-02

Spelled out here (not imported from syncstorage.accounts.schema) so this
revision keeps creating exactly this schema when that module changes later;
tests/accounts/test_schema.py checks both agree. Created in every database
the migrations run on, whether accounts are enabled or not: empty tables
cost nothing, and turning accounts on later needs no migration.
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0004_accounts"
down_revision = "0003_bso_indexes"
branch_labels = None
depends_on = None

MYSQL: dict[str, Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4"}
HEX32 = sa.String(64)
UID = sa.String(32)
TABLES = (
    "accounts", "account_tokens", "account_devices", "account_device_commands",
    "oauth_codes", "oauth_refresh_tokens", "oauth_revoked_access_tokens", "account_invites",
)


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("uid", UID, primary_key=True),
        sa.Column("email", sa.String(255), nullable=False),  # as typed at creation: the v1 salt
        sa.Column("normal_email", sa.String(255), nullable=False, unique=True),  # lower-case, for lookup
        sa.Column("email_verified", sa.Boolean, nullable=False),
        sa.Column("verifier_version", sa.Integer, nullable=False),
        sa.Column("auth_salt", HEX32, nullable=False),
        sa.Column("verify_hash", HEX32, nullable=False),
        sa.Column("wrap_wrap_kb", HEX32, nullable=False),
        sa.Column("ka", HEX32, nullable=False),
        sa.Column("verifier_set_at", sa.BigInteger, nullable=False),  # fxa-generation
        sa.Column("keys_changed_at", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("locale", sa.String(64), nullable=True),
        sa.Column("display_name", sa.String(255), nullable=True),
        sa.Column("profile_changed_at", sa.BigInteger, nullable=False),
        **MYSQL,
    )

    # Session, key-fetch, password-change and account-reset tokens (§4.5).
    op.create_table(
        "account_tokens",
        sa.Column("token_id", HEX32, primary_key=True),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("uid", UID, nullable=False, index=True),
        sa.Column("hmac_key", HEX32, nullable=False),
        sa.Column("verified", sa.Boolean, nullable=False),
        sa.Column("auth_at", sa.BigInteger, nullable=False),  # seconds
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("last_used_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=True),  # None: a session's idle limit applies
        sa.Column("key_bundle", sa.String(192), nullable=True),  # key fetch: the §4.7 bundle, hex
        sa.Column("user_agent", sa.String(255), nullable=True),
        **MYSQL,
    )

    op.create_table(
        "account_devices",
        sa.Column("id", UID, primary_key=True),
        sa.Column("uid", UID, nullable=False, index=True),
        sa.Column("session_token_id", HEX32, nullable=True, unique=True),  # or a mobile refresh token's hash
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("last_access_at", sa.BigInteger, nullable=False),
        sa.Column("push_callback", sa.Text, nullable=True),
        sa.Column("push_public_key", sa.String(255), nullable=True),
        sa.Column("push_auth_key", sa.String(255), nullable=True),
        sa.Column("push_expired", sa.Boolean, nullable=False),
        sa.Column("available_commands", sa.Text, nullable=False),  # JSON object, stored verbatim
        **MYSQL,
    )

    op.create_table(
        "account_device_commands",
        sa.Column("uid", UID, primary_key=True),
        sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("target", UID, nullable=False),
        sa.Column("sender", UID, nullable=True),
        sa.Column("command", sa.String(255), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),  # JSON, opaque (encrypted by the sender)
        sa.Column("created_at", sa.BigInteger, nullable=False),
        **MYSQL,
    )

    op.create_table(
        "oauth_codes",
        sa.Column("code_hash", HEX32, primary_key=True),
        sa.Column("client_id", sa.String(16), nullable=False),
        sa.Column("uid", UID, nullable=False, index=True),
        sa.Column("session_token_id", HEX32, nullable=True),
        sa.Column("scope", sa.String(1024), nullable=False),
        sa.Column("access_type", sa.String(8), nullable=False),
        sa.Column("code_challenge", sa.String(64), nullable=False),
        sa.Column("keys_jwe", sa.Text, nullable=True),  # opaque: encrypted to Firefox's key
        sa.Column("auth_at", sa.BigInteger, nullable=False),  # seconds
        sa.Column("created_at", sa.BigInteger, nullable=False),
        **MYSQL,
    )

    op.create_table(
        "oauth_refresh_tokens",
        sa.Column("token_hash", HEX32, primary_key=True),
        sa.Column("client_id", sa.String(16), nullable=False),
        sa.Column("uid", UID, nullable=False, index=True),
        sa.Column("scope", sa.String(1024), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("last_used_at", sa.BigInteger, nullable=False),
        **MYSQL,
    )

    # Access tokens (JWTs) revoked before their expiry, by jti (§5.5).
    op.create_table(
        "oauth_revoked_access_tokens",
        sa.Column("jti", HEX32, primary_key=True),
        sa.Column("expires_at", sa.BigInteger, nullable=False, index=True),  # seconds
        **MYSQL,
    )

    op.create_table(
        "account_invites",
        sa.Column("code_hash", HEX32, primary_key=True),
        sa.Column("email", sa.String(255), nullable=True),  # None: for any address
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        **MYSQL,
    )


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)
