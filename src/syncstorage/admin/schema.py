"""The admin page's own tables (migration 0005): the activity it charts.

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
