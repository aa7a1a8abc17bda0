"""The admin page's own tables (migration 0005): its sign-in sessions and
the activity it charts.

`sessions` holds the signed-in sessions (admin/signin.py): the SHA-256 of
each session cookie, never the cookie, so every worker and server on the
database knows them.

`activity_hours` holds one row per hour: the requests this server answered
and the syncs among them, counted in process memory and added to the row
every minute (admin/activity.py). `storage_days` holds one row per day: the
users with data, live items and bytes, taken once a day. Both are small
(a row per hour and per day); rows older than KEPT_DAYS are deleted.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

_MYSQL: dict[str, Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4"}

metadata = sa.MetaData()

activity_hours = sa.Table(
    "admin_activity_hours",
    metadata,
    sa.Column("hour", sa.BigInteger, primary_key=True, autoincrement=False),  # s since epoch // 3600
    sa.Column("requests", sa.BigInteger, nullable=False),
    sa.Column("syncs", sa.BigInteger, nullable=False),
    **_MYSQL,
)

storage_days = sa.Table(
    "admin_storage_days",
    metadata,
    sa.Column("day", sa.BigInteger, primary_key=True, autoincrement=False),  # s since epoch // 86400
    sa.Column("users", sa.BigInteger, nullable=False),
    sa.Column("items", sa.BigInteger, nullable=False),
    sa.Column("bytes", sa.BigInteger, nullable=False),
    **_MYSQL,
)

sessions = sa.Table(
    "admin_sessions",
    metadata,
    sa.Column("digest", sa.String(64), primary_key=True),  # hex SHA-256 of the cookie
    sa.Column("csrf", sa.String(64), nullable=False),
    sa.Column("expires_at", sa.BigInteger, nullable=False),  # ms
    **_MYSQL,
)
