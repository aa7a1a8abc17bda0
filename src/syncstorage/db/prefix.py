"""`prefix_range`: "starts with" as a range an index serves, for the admin
searches (tokenserver users by account, built-in accounts by address)."""

from __future__ import annotations

import sqlalchemy as sa

MAX_CHARACTER = 0x10FFFF


def prefix_range(column: sa.ColumnElement[str], prefix: str) -> sa.ColumnElement[bool]:
    """`column` starts with `prefix` (not empty), as a range the column's
    index serves (LIKE would not use it on SQLite or PostgreSQL's usual
    collations)."""
    last = ord(prefix[-1])
    if last == MAX_CHARACTER:  # no character after it: everything from the prefix on
        return column >= prefix
    return sa.and_(column >= prefix, column < prefix[:-1] + chr(last + 1))
