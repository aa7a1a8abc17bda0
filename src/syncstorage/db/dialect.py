"""The abstract `Dialect`: what every database gives its users, and the
parts the three share (the pool, the deadline of a wait, the per-request
transaction). Each database's module (`sqlite.py`, `postgresql.py`,
`mysql.py`) fills in the rest; nothing outside `db/` asks which database
it runs on, it asks the dialect.
"""

from __future__ import annotations

import abc
import contextlib
import math
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import URL

from .compiled import Compiled, read_once
from .errors import StorageError, UnavailableError

Incoming = Any  # the "row that would have been inserted" of an upsert
SetBuilder = Callable[[Incoming], Mapping[str, Any]]
if TYPE_CHECKING:
    from sqlalchemy.dialects import postgresql, sqlite

    # what `insert` returns on the databases whose INSERT has ON CONFLICT
    OnConflictInsert = postgresql.Insert | sqlite.Insert

# execution option that tells SQLite's begin hook to take the write lock
WRITE_OPTION = "syncstorage_write"

# Without a database_timeout (migrations, `syncstorage purge`, import: work
# that may legitimately run for minutes) connecting and waiting for a pooled
# connection are still bounded, by these.
CONNECT_TIMEOUT_WITHOUT_DEADLINE = 30
POOL_TIMEOUT_WITHOUT_DEADLINE = 30.0


class Dialect(abc.ABC):
    """One database's SQL forms, engine settings and error codes."""

    name: str  # SQLAlchemy's backend name, which plain URLs get a driver for

    @property
    @abc.abstractmethod
    def default_driver(self) -> str:
        """The driver a plain URL (`postgresql://...`) gets."""

    # a server database answers over the network, so a read can wait
    reads_never_wait = False
    # Whether the planner reaches rows by primary key on its own, whatever
    # the table's statistics; storage's statements pin the plan where not
    # (PostgreSQL, `storage/sql/statements.py`).
    stable_key_plans: bool

    def __init__(self, lock_timeout: float, database_timeout: float | None = None):
        self.lock_timeout = lock_timeout
        # Seconds any one wait for a database server may last: connecting,
        # a statement with its rows, COMMIT, the pool's health check. Past
        # it the connection is dropped and the request answers 503 (issue
        # 10). None: only connecting is bounded. Lock waits are meant to end
        # sooner, as conflicts (lock_timeout).
        self.database_timeout = database_timeout

    # --- connecting ---
    def normalize_url(self, url: URL) -> URL:
        """Plain `scheme://` gets our driver; an explicit `+driver` is kept."""
        if "+" not in url.drivername:
            url = url.set(drivername=f"{self.name}+{self.default_driver}")
        return url

    @property
    def connect_timeout(self) -> int:
        """Whole seconds (what the drivers take), at least 1."""
        return max(1, math.ceil(self.database_timeout or CONNECT_TIMEOUT_WITHOUT_DEADLINE))

    def engine_options(self, url: URL, *, pool_size: int) -> dict:
        return {
            "pool_size": pool_size,
            "max_overflow": pool_size,
            "pool_timeout": self.database_timeout or POOL_TIMEOUT_WITHOUT_DEADLINE,
            # a server restart or an idle timeout leaves dead connections in
            # the pool; test them on checkout so the next request recovers
            "pool_pre_ping": True,
        }

    def install(self, engine: sa.Engine) -> None:
        """Attach per-connection settings to a new engine."""

        @sa.event.listens_for(engine, "handle_error")
        def _no_reconnect_after_timeout(context):
            # A pooled connection's health check that ran out of time means
            # a frozen or unreachable server: SQLAlchemy would reconnect and
            # wait as long again (twice the deadline in all). Not counted as
            # a disconnect, the checkout fails at once and the pool drops
            # that connection.
            if context.is_pre_ping and timed_out(context.original_exception):
                context.is_disconnect = False

    def threads(self, pool_size: int) -> tuple[int, int]:
        """Threads worth giving the blocking storage calls, (readers, writers):
        a server database keeps each one waiting on the network, so as many
        as the pool has connections (pool_size + max_overflow) between them;
        more would queue for a connection."""
        return pool_size, pool_size

    # --- transactions and locks (storage-model §5) ---
    def writers(
        self, engine: sa.Engine, *, max_tick_wait: float, clock: Callable[[], float]
    ) -> Writers:
        """How storage's sessions on `engine` (given to `install`) get their
        transactions; `max_tick_wait`: see `Writers.collection_writers`;
        `clock`: the time in seconds by storage's clock, which SQLite's
        writers wait by for a collection's next tick."""
        return Writers(engine)

    @abc.abstractmethod
    def lock(self, select: sa.Select, write: bool) -> sa.Select:
        """`select` as the collection-row lock: exclusive for writers,
        shared for readers."""

    @abc.abstractmethod
    def try_lock(self, engine: sa.Engine, name: str, seconds: float) -> HeldLock | None:
        """A lock named `name` on this database that at most one process
        holds, on every machine that uses the database; None at once if
        another process holds it. A process that dies without releasing it
        leaves it taken for at most `seconds` (server databases: a lease
        row, db/leases.py) or not at all (SQLite: an flock)."""

    # --- statement forms ---
    @abc.abstractmethod
    def insert(self, table: sa.Table) -> sa.Insert:
        """An INSERT construct that can become an upsert (see `upsert`)."""

    @abc.abstractmethod
    def insert_ignore(self, table: sa.Table) -> sa.Insert:
        """INSERT that skips rows whose key exists; its rowcount says how
        many went in (SQLAlchemy keeps INSERT rowcounts only when asked)."""

    @abc.abstractmethod
    def upsert(self, insert: sa.Insert, keys: list[str], set_: SetBuilder) -> sa.Insert:
        """Turn `insert` (from `self.insert`, with values or a SELECT) into an
        upsert on the primary key `keys`.

        `set_(incoming)` returns the columns to change on an existing row,
        `incoming.<col>` naming the value that would have been inserted.
        """

    @abc.abstractmethod
    def sortindex_desc(self, column: sa.ColumnElement) -> sa.ColumnElement:
        """storage-api §9.1: null sortindex after every number."""

    @abc.abstractmethod
    def bounded_delete(self, table: sa.Table, where: sa.ColumnElement, limit: int) -> sa.Delete:
        """DELETE at most `limit` rows matching `where` (storage-model §8)."""

    @abc.abstractmethod
    def reserve_ids(self, conn: sa.Connection, table: str, column: str, above: int) -> None:
        """Make the auto-increment `column` of `table` hand out ids above
        `above` (and above every stored one), never lowering it."""

    # --- errors (storage-model §5.4) ---
    def expected_error(self, exc: sa.exc.SQLAlchemyError) -> StorageError | None:
        """The database's own failures (away, locked, full) as ConflictError
        / UnavailableError; None for the rest, which are bugs."""
        if isinstance(exc, sa.exc.TimeoutError):  # no free pooled connection
            return UnavailableError(str(exc))
        if isinstance(exc, sa.exc.DBAPIError):
            return self.classify(exc)
        return None

    def classify(self, exc: sa.exc.DBAPIError) -> StorageError | None:
        """A ConflictError or UnavailableError for `exc`, or None if it is a bug."""
        error = self.classify_driver_error(exc)
        if error is None and exc.connection_invalidated:
            return UnavailableError(str(exc.orig))
        return error

    @abc.abstractmethod
    def classify_driver_error(self, exc: sa.exc.DBAPIError) -> StorageError | None:
        """`classify` by the driver's own error codes."""


class Writers:
    """The transactions of storage's sessions. Where the database queues
    writers itself (row locks) every request is its own transaction."""

    def __init__(self, engine: sa.Engine):
        self.engine = engine

    @contextlib.contextmanager
    def transaction(self, *, write: bool) -> Iterator[sa.Connection]:
        """One transaction on a pooled connection."""
        with self.engine.connect() as conn:
            conn.execution_options(**{WRITE_OPTION: write})
            with conn.begin():
                yield conn

    def read_once(self, compiled: Compiled, values: Mapping[str, Any]) -> list:
        """The rows of one SELECT, outside any session (its own snapshot)."""
        return read_once(self.engine, compiled, values)

    def close(self) -> None:
        """Close what the engine's pool does not hold (the engine is disposed
        apart)."""

    def collection_writers(self, userid: int, collection: str) -> contextlib.AbstractContextManager:
        """Entered around a write session on a collection, before its
        transaction. Yields None, or an object whose `last_written` the
        session sets to its T once committed (SQLite: CollectionQueue)."""
        return contextlib.nullcontext()


class HeldLock(abc.ABC):
    """A lock `Dialect.try_lock` took."""

    @abc.abstractmethod
    def release(self) -> None:
        """Give the lock back."""


def on_conflict_insert_ignore(insert: OnConflictInsert) -> sa.Insert:
    """`insert_ignore` where INSERT has ON CONFLICT (PostgreSQL, SQLite)."""
    return insert.on_conflict_do_nothing().execution_options(preserve_rowcount=True)


def on_conflict_upsert(insert: OnConflictInsert, keys: list[str], set_: SetBuilder) -> sa.Insert:
    """`upsert` where INSERT has ON CONFLICT (PostgreSQL, SQLite)."""
    changes = set_(insert.excluded)
    if not changes:
        return insert.on_conflict_do_nothing(index_elements=keys)
    return insert.on_conflict_do_update(index_elements=keys, set_=dict(changes))


def timed_out(exc: BaseException) -> bool:
    """A driver error caused by a timeout: the socket's (PyMySQL) or the
    watchdog's (psycopg)."""
    return isinstance(exc.__cause__ or exc.__context__, TimeoutError)
