"""`syncstorage node migrate`: move users from one storage node to another
with their data, so that Firefox continues on the new node instead of
uploading everything again (docs/fleet.md "Moving users between nodes").

For each user currently assigned to the source node, lowest uid first:

1. mark the user in the source database's `migration` table (state 1):
   from then on the source node refuses the user (503, Retry-After 300; it
   must run with allow_migration), and the mark waits for the user's writes
   in flight to commit first (storage/sql/moves.py says how);
2. delete whatever the destination holds for the uid, then copy the user's
   rows in chunks (collections mapped by name);
3. verify: count and digest of every collection read back from the
   destination must equal what was read from the source;
4. point the user's tokenserver record at the destination (same uid), and
   only then mark the move complete (state 2: the source keeps refusing).

A step that fails gives the move up: the mark is removed, so the user goes
on syncing with the source node. A run that dies (kill -9) leaves at most
one user marked and not moved: the next run copies that user again from
scratch (step 2 clears the partial copy), and first completes the marks of
users it finds already on another node (a run that died between 4 and its
end). Moving a user is thus idempotent, and `limit` users are the next
ones still on the source node.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import sqlalchemy as sa

from syncstorage.logs import one_line
from syncstorage.storage import ConflictError, StorageError, UnavailableError
from syncstorage.storage.sql import SQLStorage
from syncstorage.storage.sql.moves import (
    MOVED,
    clear_user,
    copy_user,
    mark_moving,
    moving_users,
    set_state,
    user_digest,
)
from syncstorage.tokenserver import admin

log = logging.getLogger("syncstorage.migrate")

PROGRESS_EVERY_S = 5.0  # seconds between progress lines
MAX_INTERRUPTED = 1000  # marks of earlier runs completed per run
# One run at a time moves users off a database (`Dialect.try_lock`, held
# for each user's move): two would unmark and clear each other's users
# mid-copy. A run that dies leaves the lease on PostgreSQL / MariaDB for up
# to this long (SQLite's flock goes with the process); far longer than one
# user's move (a user of 100,000 records: about 10 s).
LOCK_NAME = "node-migrate"
LOCK_SECONDS = 600.0


class UserNotMoved(Exception):
    """One user could not be moved; the others can."""


class AnotherRun(Exception):
    """Another run is moving users off the same database: this one stops."""


@dataclass
class MoveSummary:
    users: int = 0
    records: int = 0
    failed: list[str] = field(default_factory=list)  # one line each
    seconds: float = 0.0

    def line(self, from_url: str, to_url: str) -> str:
        seconds = max(self.seconds, 1e-6)
        return (
            f"moved {self.users} users ({self.records} records) from {from_url} to {to_url}"
            f" in {self.seconds:.1f} s: {self.users / seconds:.1f} users/s, {self.records / seconds:.0f} records/s"
        )


def fxa_uid_of(email: str) -> str:
    """The FxA uid of a tokenserver user record, whose email is
    `<fxa_uid>@<fxa_email_domain>`; the token carries it as `fxa_uid`."""
    return email.partition("@")[0]


class NodeMove:
    """Users of `from_url` (data in `source`) to `to_url` (data in `dest`)."""

    def __init__(
        self,
        source: SQLStorage,
        dest: SQLStorage,
        token_engine: sa.Engine,
        from_url: str,
        to_url: str,
        *,
        email_domain: str,
        chunk_size: int = 1000,
        say: Callable[[str], None] = print,
    ):
        self.source, self.dest, self.token_engine = source, dest, token_engine
        self.from_url, self.to_url = from_url, to_url
        self.email_domain = email_domain
        self.chunk_size = chunk_size
        self.say = say

    def run(self, limit: int | None) -> MoveSummary:
        """Move up to `limit` users (None: all). Raises UnavailableError or a
        SQLAlchemy error when a database is away: the run stops there."""
        summary = MoveSummary()
        started = last_report = time.monotonic()
        self.complete_interrupted()
        remaining, after = limit, 0
        while remaining is None or remaining > 0:
            batch = self.chunk_size if remaining is None else min(self.chunk_size, remaining)
            # by uid after the last one seen: a user that failed stays on
            # the source node and is not tried again in this run
            users = admin.users_on_node(self.token_engine, self.from_url, batch, after=after)
            if not users:
                break
            for user in users:
                after = user.uid
                try:
                    summary.records += self.move(user.uid, fxa_uid_of(user.email))
                    summary.users += 1
                except UserNotMoved as exc:
                    summary.failed.append(f"uid {user.uid}: not moved: {exc}")
                    self.say(summary.failed[-1])
                if time.monotonic() - last_report >= PROGRESS_EVERY_S:
                    last_report = time.monotonic()
                    summary.seconds = last_report - started
                    self.say(f"... {summary.line(self.from_url, self.to_url)}")
            if remaining is not None:
                remaining -= len(users)
        summary.seconds = time.monotonic() - started
        return summary

    def complete_interrupted(self) -> None:
        """State 2 for users an earlier run moved but died before marking."""
        for fxa_uid in moving_users(self.source, MAX_INTERRUPTED):
            node = admin.current_node(self.token_engine, f"{fxa_uid}@{self.email_domain}")
            if node != self.from_url:
                set_state(self.source, fxa_uid, MOVED)
                self.say(f"completed the interrupted move of {fxa_uid} (now on {node})")

    def move(self, uid: int, fxa_uid: str) -> int:
        """Move one user (module doc); returns the records copied."""
        held = self.source.dialect.try_lock(self.source.engine, LOCK_NAME, LOCK_SECONDS)
        if held is None:
            raise AnotherRun(
                f"another `node migrate` is moving users off this database (one that died holds it up to {LOCK_SECONDS:.0f} s)"
            )
        try:
            return self._move(uid, fxa_uid)
        finally:
            held.release()

    def _move(self, uid: int, fxa_uid: str) -> int:
        try:
            mark_moving(self.source, fxa_uid)
        except ConflictError as exc:  # writes in flight held the lock too long
            raise UserNotMoved(one_line("the source node stayed busy", exc)) from None
        try:
            clear_user(self.dest, uid, fxa_uid, self.chunk_size)
            copied = copy_user(self.source, self.dest, uid, self.chunk_size)
            differences = copied.differences(user_digest(self.dest, uid, self.chunk_size))
            if differences:
                raise UserNotMoved(f"the copy differs: {'; '.join(differences[:3])}")
            if not admin.move_user(self.token_engine, uid, self.from_url, self.to_url):
                raise UserNotMoved(f"no longer assigned to {self.from_url}")
        except (UserNotMoved, ConflictError, StorageError, sa.exc.SQLAlchemyError) as exc:
            self._give_up(uid, fxa_uid)
            if isinstance(exc, (UnavailableError, sa.exc.SQLAlchemyError)):
                raise  # a database is away: the run stops
            if isinstance(exc, UserNotMoved):
                raise
            raise UserNotMoved(one_line("copy failed", exc)) from None
        set_state(self.source, fxa_uid, MOVED)
        return copied.total_rows

    def _give_up(self, uid: int, fxa_uid: str) -> None:
        """Let the user sync with the source node again; drop the partial
        copy. Best effort: what a database that is away keeps, the next run
        does (the mark) or clears (the copy)."""
        try:
            set_state(self.source, fxa_uid, None)
            clear_user(self.dest, uid, fxa_uid, self.chunk_size)
        except (StorageError, sa.exc.SQLAlchemyError) as exc:
            self.say(one_line(f"uid {uid}: left marked as moving (the next run moves it)", exc))
