"""Schema management: the Alembic migrations shipped in `syncstorage/migrations`.

The CLI calls these; nothing here needs an alembic.ini:

    upgrade(url)              # create or update the schema to the newest revision
    current_revision(url)     # None for a database never migrated (e.g. a new SQLite file)
    head_revision()           # the newest revision this code knows
    is_known_revision(rev)    # whether a database's revision is one of ours
    is_current(url)           # True when the server may start on this database

A later part of the schema (e.g. the tokenserver tables) is one more file in
`migrations/versions/` whose `down_revision` is the current head.
"""

from __future__ import annotations

from importlib.resources import files

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from syncstorage import db

from .schema import DEFAULT_SHARDSIZE


def migration_engine(url: str) -> sa.Engine:
    """An engine with the server's own connection settings (driver choice,
    SQLite WAL and explicit BEGIN) and no pool, for one migration run.
    No database_timeout: a migration may rewrite a large table for minutes."""
    # migrations write: on SQLite take the write lock up front
    _dialect, engine = db.create_engine(url, lock_timeout=60.0, pool_size=None, writes_only=True)
    return engine


def _config(url: str | None = None, **attributes) -> Config:
    config = Config()
    config.set_main_option("script_location", str(files("syncstorage") / "migrations"))
    config.attributes.update(url=url, **attributes)
    return config


def upgrade(
    url: str, *, shard: bool = False, shardsize: int = DEFAULT_SHARDSIZE, revision: str = "head"
) -> None:
    """Bring the database to `revision`. The sharding layout must be the one
    the server will run with (storage-model §3.6)."""
    command.upgrade(_config(url, shard=shard, shardsize=shardsize), revision)


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
