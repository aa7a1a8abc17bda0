"""The SQL storage backend for SQLite, PostgreSQL and MySQL/MariaDB."""

from .backend import PurgeResult, SQLStorage

__all__ = ["PurgeResult", "SQLStorage"]
