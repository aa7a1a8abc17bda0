"""Schema management: the Alembic migrations shipped in `syncstorage/migrations`.

The CLI calls these; nothing here needs an alembic.ini:

    upgrade(url)              # create or update the schema to the newest revision
    current_revision(url)     # None for a database never migrated (e.g. a new SQLite file)
    head_revision()           # the newest revision this code knows
    is_known_revision(rev)    # whether a database's revision is one of ours
    is_current(url)           # True when the server may start on this database

A later part of the schema (e.g. the tokenserver tables) is one more file in
`migrations/versions/` whose `down_revision` is the current head.

Any number of servers may start at once on one empty database: `upgrade`
first takes the database's one-process lock (`Dialect.try_lock`: a lease
row on the server databases, which holds across a Galera cluster's nodes;
an flock next to a SQLite file), so one process migrates and the others
wait, then find the schema current. Without it two processes both created the tables and one died
with "table already exists" (MySQL's DDL is not transactional; PostgreSQL
fails on the catalog's unique index).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.resources import files

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from syncstorage import db

from .schema import DEFAULT_SHARDSIZE

log = logging.getLogger("syncstorage")

LOCK_NAME = "migrate"  # `Dialect.try_lock`: a syncstorage_leases row, <database>.migrate-lock
# How long a process waits for another one's migration, which may rewrite a
# large table; then it gives up with MigrationBusy. Also how long the lease
# of a migrating process that died blocks the others.
LOCK_WAIT_SECONDS = 600.0
_LOCK_POLL_SECONDS = 0.2


class MigrationBusy(Exception):
    """Another process held the migration lock for all of LOCK_WAIT_SECONDS."""


def migration_engine(url: str) -> sa.Engine:
    """An engine with the server's own connection settings (driver choice,
    SQLite WAL and explicit BEGIN) and no pool, for one migration run."""
    return _migration_dialect_and_engine(url)[1]


def _migration_dialect_and_engine(url: str) -> tuple[db.Dialect, sa.Engine]:
    # No database_timeout: a migration may rewrite a large table for minutes.
    # Migrations write: on SQLite take the write lock up front.
    return db.create_engine(url, lock_timeout=60.0, pool_size=None, writes_only=True)


@contextmanager
def _migration_lock(url: str, wait: float) -> Iterator[None]:
    """Held around a migration run: at most one process migrates a database."""
    dialect, engine = _migration_dialect_and_engine(url)
    try:
        deadline = time.monotonic() + wait
        held = dialect.try_lock(engine, LOCK_NAME, LOCK_WAIT_SECONDS)
        if held is None:
            log.info("waiting for another process to finish migrating the database schema")
        while held is None:
            if time.monotonic() >= deadline:
                raise MigrationBusy(f"another process has been migrating the schema for over {wait:.0f} s")
            time.sleep(_LOCK_POLL_SECONDS)
            held = dialect.try_lock(engine, LOCK_NAME, LOCK_WAIT_SECONDS)
        try:
            yield
        finally:
            held.release()
    finally:
        engine.dispose()


def _config(url: str | None = None, **attributes) -> Config:
    config = Config()
    config.set_main_option("script_location", str(files("syncstorage") / "migrations"))
    config.attributes.update(url=url, **attributes)
    return config


def upgrade(
    url: str, *, shard: bool = False, shardsize: int = DEFAULT_SHARDSIZE, revision: str = "head"
) -> str | None:
    """Bring the database to `revision`, waiting up to `LOCK_WAIT_SECONDS`
    for another process's migration (then MigrationBusy); returns the
    revision it found once it held the lock. The sharding layout must be the
    one the server will run with (storage-model §3.6)."""
    with _migration_lock(url, LOCK_WAIT_SECONDS):
        # read under the lock: a process that waited finds the work done,
        # and Alembic (which reads it again) runs nothing
        found = current_revision(url)
        command.upgrade(_config(url, shard=shard, shardsize=shardsize), revision)
        return found


def current_revision(url: str) -> str | None:
    engine = migration_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None, "the migrations directory has no revisions"
    return head


def is_known_revision(revision: str) -> bool:
    """Whether a stored revision is one of ours (other software uses Alembic too)."""
    return any(script.revision == revision for script in ScriptDirectory.from_config(_config()).walk_revisions())


def is_current(url: str) -> bool:
    return current_revision(url) == head_revision()
