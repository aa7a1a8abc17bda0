"""Column types whose SQL differs per database (used by the schemas and
the migrations)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql


class _MySQLAsciiBinary(sa.types.TypeDecorator):
    """An ASCII str kept in VARBINARY: compared byte by byte, trailing spaces
    included. Every MySQL/MariaDB VARCHAR collation portable to both servers
    (ascii_bin too) is PAD SPACE, under which "a" = "a " = "a  ": three valid,
    distinct BSO ids would share one primary key."""

    impl = mysql.VARBINARY
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else value.encode("ascii")

    def process_result_value(self, value, dialect):
        return None if value is None else value.decode("ascii")


def id_string(length: int) -> sa.types.TypeEngine:
    """A case-sensitive ASCII string compared byte by byte.

    BSO ids and collection names are printable ASCII, case-sensitive, and a
    trailing space is significant (storage-api §1.2). MySQL's default
    collations are case-insensitive and pad with spaces, so MySQL gets
    VARBINARY; PostgreSQL gets the "C" collation so ORDER BY id is plain byte
    order, as on SQLite.
    """
    return (
        sa.String(length)
        .with_variant(_MySQLAsciiBinary(length), "mysql", "mariadb")
        .with_variant(postgresql.VARCHAR(length, collation="C"), "postgresql")
    )


def payload_text() -> sa.types.TypeEngine:
    """Payload text: MySQL needs MEDIUMTEXT (TEXT holds only 64 KiB) in utf8mb4
    so any Unicode payload round-trips (storage-model §10.2)."""
    return sa.Text().with_variant(
        mysql.MEDIUMTEXT(charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb"
    )
