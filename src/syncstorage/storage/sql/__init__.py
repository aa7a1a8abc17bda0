"""The SQL storage backend for SQLite, PostgreSQL and MySQL/MariaDB."""

from .backend import SQLStorage
from .maintenance import PurgeResult

__all__ = ["PurgeResult", "SQLStorage"]
