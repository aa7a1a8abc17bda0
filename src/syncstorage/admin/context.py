"""What the admin pages work on, shared by every section's module."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import sqlalchemy as sa

from syncstorage.account_removal import AccountRemoval
from syncstorage.admin.activity import ActivityCounter
from syncstorage.admin.page import Layout
from syncstorage.admin.signin import Session
from syncstorage.settings import Settings
from syncstorage.storage.sql import SQLStorage

log = logging.getLogger("syncstorage.admin")

# `BackgroundPurge.run_once` given by app.py: (expired items, stale batches,
# staged batch items) deleted, or None when another process is purging
PurgeNow = Callable[[str], Awaitable[tuple[int, int, int] | None]]


@dataclass
class AdminContext:
    settings: Settings
    storage: SQLStorage
    tokenserver: sa.Engine  # the tokenserver tables (users, nodes), and the accounts tables
    layout: Layout
    purge_now: PurgeNow
    activity: ActivityCounter
    removal: AccountRemoval | None  # with accounts_enabled: the Accounts section

    def log_action(self, session: Session, what: str, target: str) -> None:
        """Every action is one log line: who (the session), what, on what."""
        log.info("admin action %s on %s by session %s", what, target, session.who)
