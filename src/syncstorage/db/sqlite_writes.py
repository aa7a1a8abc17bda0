"""Group commit for the SQLite writers of one process (issue 6).

SQLite has one write lock per database and `synchronous=FULL` makes every
COMMIT an fsync (3-6 ms on our disk; issue 2 rules out NORMAL). With one
transaction per request, writers queue behind each other's fsync. Here the
writers of the process share one open write transaction, the *group*:

- a writer takes the *turn* (one at a time, as before: SQLite allows one
  writer); if no group is open it opens one (a pooled connection,
  `BEGIN IMMEDIATE`), then runs its session inside a SAVEPOINT;
- success: RELEASE, and the session is a *member* of the group; failure
  (an exception, a conflict): ROLLBACK TO the savepoint, so its work
  vanishes and the members' stays;
- at the end of its turn, under the same mutex that counts waiting
  writers: if nobody waits, or the group is full or old, it COMMITs, still
  holding the turn, and tells the members the outcome; otherwise it hands
  the turn to the next writer and waits for the group's outcome.

A member returns only after the COMMIT that contains its work succeeded,
so a 200 still means "on disk"; if the COMMIT fails, every member gets the
error. Readers are untouched (own pooled connections, WAL snapshots), so
they see a member's writes only once its group committed.

Invariant: whoever holds the turn while nobody waits commits the group, so
a group is never left open. A writer whose wait times out re-checks the
turn under the mutex and takes it if it is free.

Each process has its own group; writers of several processes
(`--workers N`) still meet in SQLite's busy handler on BEGIN IMMEDIATE, as
before, and a group holds the database's write lock for up to
`MAX_GROUP_AGE_S` plus one session.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import cast

import sqlalchemy as sa

from .errors import ConflictError, StorageError

# A group stops taking members once it has this many (a failed COMMIT fails
# them all, and the WAL frames of one transaction stay bounded) ...
MAX_GROUP_MEMBERS = 64
# ... or once its first member has waited this long. The first member's
# extra latency is bounded by this, one more session and the COMMIT; 20 ms
# is 4-6 fsyncs of our disk, so a queue of short writes (1-3 ms each) still
# shares one fsync among 5-10 of them, while a lone writer never waits.
MAX_GROUP_AGE_S = 0.020

Classify = Callable[[sa.exc.DBAPIError], StorageError | None]


class _Group:
    """One open write transaction and the sessions that joined it."""

    def __init__(self, conn: sa.Connection):
        self.conn = conn
        self.transaction = conn.begin()  # BEGIN IMMEDIATE, by the dialect's begin hook
        self.members = 0
        self.first_joined = 0.0
        self.done = threading.Event()  # set once committed or failed
        self.error: BaseException | None = None

    def in_transaction(self) -> bool:
        """False if SQLite rolled the whole transaction back by itself
        (SQLITE_FULL, IOERR and NOMEM may) or the connection was lost."""
        if self.conn.invalidated:
            return False
        # a connection that is not invalidated holds its driver connection
        return cast(sqlite3.Connection, self.conn.connection.dbapi_connection).in_transaction


class GroupCommit:
    """The write transactions of one engine's SQLite database."""

    def __init__(self, engine: sa.Engine, *, lock_timeout: float, classify: Classify):
        self._engine = engine  # its connections BEGIN IMMEDIATE
        self._lock_timeout = lock_timeout
        self._classify = classify
        self._mutex = threading.Lock()
        self._turn_free = threading.Condition(self._mutex)
        self._turn_taken = False  # guarded by _mutex
        self._waiting = 0  # writers waiting for the turn; guarded by _mutex
        self._group: _Group | None = None  # used only by the turn's holder

    @contextmanager
    def transaction(self) -> Iterator[sa.Connection]:
        """A write session's connection; returns once its work is committed."""
        self._take_turn()
        try:
            group = self._group or self._open()
            # on the driver's connection, like BEGIN (sqlite.py): through
            # SQLAlchemy's begin_nested the savepoint cost 65 µs of CPU per
            # write, more than the turn and the group together
            execute_on_driver(group.conn, "SAVEPOINT member")
            try:
                yield group.conn
                execute_on_driver(group.conn, "RELEASE member")
            except BaseException as exc:
                self._undo(group, exc)
                raise
            if group.members == 0:
                group.first_joined = time.monotonic()
            group.members += 1
        finally:
            self._end_turn()
        group.done.wait()  # no timeout: until then we cannot say whether it is on disk
        if group.error is not None:
            raise self._member_error(group.error) from group.error

    # --- the turn ---
    def _take_turn(self) -> None:
        deadline = time.monotonic() + self._lock_timeout
        with self._mutex:
            self._waiting += 1
            try:
                while self._turn_taken:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        # the busy handler's bound: a writer stuck behind a
                        # hung one is a conflict (storage-model §5.4), not a hang
                        raise ConflictError("timed out waiting for the SQLite write lock")
                    self._turn_free.wait(remaining)
                self._turn_taken = True
            finally:
                self._waiting -= 1

    def _end_turn(self) -> None:
        with self._mutex:
            group = self._group
            if group is None or self._keeps_open(group):
                self._release_turn()  # the next writer joins the group and decides again
                return
            self._group = None
        self._commit(group)  # still our turn: nobody writes during the COMMIT
        with self._mutex:
            self._release_turn()

    def _keeps_open(self, group: _Group) -> bool:
        """Whether to leave the group open for a waiting writer (under _mutex)."""
        return (
            self._waiting > 0
            and group.members < MAX_GROUP_MEMBERS
            and (group.members == 0 or time.monotonic() - group.first_joined < MAX_GROUP_AGE_S)
        )

    def _release_turn(self) -> None:
        self._turn_taken = False
        self._turn_free.notify()

    # --- the group ---
    def _open(self) -> _Group:
        conn = self._engine.connect()
        try:
            self._group = _Group(conn)
        except BaseException:
            conn.close()
            raise
        return self._group

    def _undo(self, group: _Group, exc: BaseException) -> None:
        """Take back one session's work; the others' stays unless SQLite
        already dropped the whole transaction."""
        if group.in_transaction():
            try:
                execute_on_driver(group.conn, "ROLLBACK TO member")
                execute_on_driver(group.conn, "RELEASE member")
                return
            except Exception as rollback_error:  # noqa: BLE001 - the group is unusable
                exc = rollback_error
        self._fail(group, exc)

    def _fail(self, group: _Group, exc: BaseException) -> None:
        """End the group without committing: every member gets `exc`."""
        self._group = None
        group.error = exc
        group.conn.invalidate()  # closing the connection rolls back what is left
        group.conn.close()
        group.done.set()

    def _commit(self, group: _Group) -> None:
        try:
            group.transaction.commit()
        except BaseException as exc:
            group.error = exc
            group.conn.invalidate()  # a fresh connection for the next group
        finally:
            group.conn.close()
            group.done.set()

    def _member_error(self, exc: BaseException) -> BaseException:
        """The error each member raises for its failed group (one object per
        thread: they are raised concurrently)."""
        if isinstance(exc, sa.exc.DBAPIError):
            classified = self._classify(exc)
            if classified is not None:
                return classified
        return StorageError(f"the group's write transaction failed: {exc}")


class _Writers:
    """The queue of one collection's writers (see CollectionQueue)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.waiting = 0  # writers holding or waiting for `lock`; guarded by the queue's mutex


class _Turn:
    last_written = 0  # the session's T, set once it committed


class CollectionQueue:
    """The write sessions of one collection in this process, one at a time,
    each starting after the previous one's 10 ms tick.

    A write in the tick of the collection's last write waits for the next
    tick (storage-model §5.3, session._after_tick). Under the collection's
    lock that is right for PostgreSQL and MariaDB, whose row locks hold up
    nobody else; on SQLite the lock is the process's write turn, and every
    other user's writes would wait with it (10 devices of one user writing
    at once: another user's writes took 100 ms instead of 3.5). So here a
    writer waits for its collection's previous writer and that one's tick
    before it queues for the turn. Writers of other processes (--workers N)
    still meet under the lock.
    """

    def __init__(
        self, *, lock_timeout: float, max_tick_wait: float, clock: Callable[[], float]
    ):
        self._lock_timeout = lock_timeout
        self._clock = clock  # seconds, from the clock that stamps `last_written`
        self._max_tick_wait = max_tick_wait
        self._mutex = threading.Lock()
        self._collections: dict[tuple[int, str], _Writers] = {}  # only those with writers
        # T of the last write to each collection, kept while it may still
        # be this tick (pruned when it grows past _REMEMBERED); guarded by _mutex
        self._last_written: dict[tuple[int, str], int] = {}

    @contextmanager
    def turn(self, userid: int, collection: str) -> Iterator[_Turn]:
        """Hold the collection's turn; the session sets `last_written`."""
        key = (userid, collection)
        with self._mutex:
            writers = self._collections.setdefault(key, _Writers())
            writers.waiting += 1
        try:
            if not writers.lock.acquire(timeout=self._lock_timeout):
                raise ConflictError("timed out waiting for the collection's other writers")
            try:
                with self._mutex:
                    previous = self._last_written.get(key, 0)
                wait = previous / 1000 - self._clock() + 0.0005  # now_ms() rounds up past it
                if wait > 0:
                    time.sleep(min(wait, self._max_tick_wait))
                turn = _Turn()
                yield turn
                if turn.last_written:
                    with self._mutex:
                        self._remember(key, turn.last_written)
            finally:
                writers.lock.release()
        finally:
            with self._mutex:
                writers.waiting -= 1
                if not writers.waiting:
                    del self._collections[key]

    def _remember(self, key: tuple[int, str], written: int) -> None:
        """Under _mutex."""
        self._last_written[key] = written
        if len(self._last_written) > _REMEMBERED:
            recent = self._clock() * 1000 - 1000 * self._max_tick_wait
            self._last_written = {k: t for k, t in self._last_written.items() if t > recent}


# Collections whose last write is remembered before the old ones are
# dropped: a dict this size is pruned in well under a millisecond
_REMEMBERED = 1024


def execute_on_driver(conn: sa.Connection, statement: str) -> None:
    """Run a transaction-control statement on the pysqlite connection under
    `conn`, skipping SQLAlchemy's execution path (which costs more than the
    statement); errors are wrapped as SQLAlchemy would, for classify()."""
    try:
        # a live connection holds its driver connection (None only once detached)
        cast(sqlite3.Connection, conn.connection.dbapi_connection).execute(statement)
    except sqlite3.Error as exc:
        raise sa.exc.DBAPIError.instance(statement, (), exc, sqlite3.Error) from exc
