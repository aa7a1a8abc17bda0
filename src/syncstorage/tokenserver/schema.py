"""The tokenserver tables, compatible with Mozilla's tokenserver database.

auth-and-tokens §8. Column order matters: operators' tools read rows with
`SELECT *` and unpack them by position. There are no foreign keys on purpose:
operators delete nodes while users still point at them.

The tables are created by the Alembic revision
migrations/versions/0002_tokenserver_tables.py; a test checks both agree.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

# generation value that marks a retired user (§8).
MAX_GENERATION = 9223372036854775807

SYNC_SERVICE = "sync-1.5"
SYNC_PATTERN = "{node}/1.5/{uid}"

# On SQLite an id must be declared INTEGER PRIMARY KEY to alias the rowid, so
# that explicit and automatic ids both work (§8). AUTOINCREMENT there also
# stops SQLite from handing a deleted user's uid to a new user.
_BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# Any: dialect options go to **kw; as dict[str, str] mypy would match them
# against the typed keywords (quote: bool, ...).
_MYSQL: dict[str, Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4"}

metadata = sa.MetaData()

services = sa.Table(
    "services",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("service", sa.String(30), unique=True),
    sa.Column("pattern", sa.String(128)),
    sqlite_autoincrement=True,
    **_MYSQL,
)

nodes = sa.Table(
    "nodes",
    metadata,
    sa.Column("id", _BigId, primary_key=True, autoincrement=True),
    sa.Column("service", sa.Integer, nullable=False),
    sa.Column("node", sa.String(64), nullable=False),
    sa.Column("available", sa.Integer, nullable=False),
    sa.Column("current_load", sa.Integer, nullable=False),
    sa.Column("capacity", sa.Integer, nullable=False),
    sa.Column("downed", sa.Integer, nullable=False),
    sa.Column("backoff", sa.Integer, nullable=False),
    sa.UniqueConstraint("service", "node", name="unique_idx"),
    sqlite_autoincrement=True,
    **_MYSQL,
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("uid", _BigId, primary_key=True, autoincrement=True),
    sa.Column("service", sa.Integer, nullable=False),
    sa.Column("email", sa.String(255), nullable=False),
    sa.Column("generation", sa.BigInteger, nullable=False),
    sa.Column("client_state", sa.String(32), nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("replaced_at", sa.BigInteger, nullable=True),
    sa.Column("nodeid", sa.BigInteger, nullable=False),
    sa.Column("keys_changed_at", sa.BigInteger, nullable=True),
    sa.Index("lookup_idx", "email", "service", "created_at"),
    sa.Index("replaced_at_idx", "service", "replaced_at"),
    sa.Index("node_idx", "nodeid"),
    sqlite_autoincrement=True,
    **_MYSQL,
)
