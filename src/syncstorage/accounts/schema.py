"""The accounts server's tables (spec accounts.md §4.3, §4.5, §5, §6).

Created by migrations/versions/0004_accounts_tables.py and 0006 (a test
checks both agree), in the tokenserver's database. Binary values are stored as lowercase
hex so every database compares and indexes them the same way. Times are
milliseconds since the epoch unless a name says otherwise.

Nothing here is a secret a client could use directly: token seeds are never
stored (only the token id and its Hawk key, §4.5), codes, refresh tokens and
invitations only as SHA-256 hashes, passwords only as the scrypt verifier.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

_MYSQL: dict[str, Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4"}
HEX32 = sa.String(64)  # 32 bytes as hex
UID = sa.String(32)

metadata = sa.MetaData()

accounts = sa.Table(
    "accounts",
    metadata,
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
    # set by the operator (docs/accounts.md "Disabling an account"): no sign-in, no token
    sa.Column("disabled_at", sa.BigInteger, nullable=True),
    **_MYSQL,
)

# Session, key-fetch, password-change and account-reset tokens (§4.5).
tokens = sa.Table(
    "account_tokens",
    metadata,
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
    **_MYSQL,
)

devices = sa.Table(
    "account_devices",
    metadata,
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
    **_MYSQL,
)

device_commands = sa.Table(
    "account_device_commands",
    metadata,
    sa.Column("uid", UID, primary_key=True),
    sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("target", UID, nullable=False),
    sa.Column("sender", UID, nullable=True),
    sa.Column("command", sa.String(255), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),  # JSON, opaque (encrypted by the sender)
    sa.Column("created_at", sa.BigInteger, nullable=False),
    **_MYSQL,
)

oauth_codes = sa.Table(
    "oauth_codes",
    metadata,
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
    **_MYSQL,
)

refresh_tokens = sa.Table(
    "oauth_refresh_tokens",
    metadata,
    sa.Column("token_hash", HEX32, primary_key=True),
    sa.Column("client_id", sa.String(16), nullable=False),
    sa.Column("uid", UID, nullable=False, index=True),
    sa.Column("scope", sa.String(1024), nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("last_used_at", sa.BigInteger, nullable=False),
    **_MYSQL,
)

# Access tokens (JWTs) revoked before their expiry, by jti (§5.5).
revoked_access_tokens = sa.Table(
    "oauth_revoked_access_tokens",
    metadata,
    sa.Column("jti", HEX32, primary_key=True),
    sa.Column("expires_at", sa.BigInteger, nullable=False, index=True),  # seconds
    **_MYSQL,
)

invites = sa.Table(
    "account_invites",
    metadata,
    sa.Column("code_hash", HEX32, primary_key=True),
    sa.Column("email", sa.String(255), nullable=True),  # None: for any address
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("expires_at", sa.BigInteger, nullable=False),
    **_MYSQL,
)

# The confirmation code a session waits for when mail is on (docs/accounts.md
# "Confirming by e-mail"): one row per unconfirmed session, the code only as
# a hash. `key_fetch_token_id`: the key-fetch token issued with the session,
# confirmed with it.
account_codes = sa.Table(
    "account_codes",
    metadata,
    sa.Column("session_token_id", HEX32, primary_key=True),
    sa.Column("uid", UID, nullable=False, index=True),
    sa.Column("key_fetch_token_id", HEX32, nullable=True),
    sa.Column("code_hash", HEX32, nullable=False),
    sa.Column("expires_at", sa.BigInteger, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),  # wrong codes typed for this code
    sa.Column("sends", sa.Integer, nullable=False),  # mails sent for this session
    sa.Column("sent_at", sa.BigInteger, nullable=False),
    **_MYSQL,
)
