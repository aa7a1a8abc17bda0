"""`syncstorage db upgrade|current`, and the schema check `serve` runs first."""

from __future__ import annotations

import logging

import click
import sqlalchemy as sa

from syncstorage.cli.common import config_option, ensure_default_data_dir, settings_from
from syncstorage.config import masked_url
from syncstorage.logs import driver_error
from syncstorage.storage.sql import migrate
from syncstorage.syncserver_import import has_syncserver_tables

log = logging.getLogger("syncstorage")


class DatabaseProblem(click.ClickException):
    """The database cannot be used: one line, exit code 1."""

    def show(self, file=None) -> None:
        click.echo(f"syncstorage: {self.message}", err=True)


def database_problem(url: str, exc: sa.exc.SQLAlchemyError) -> DatabaseProblem:
    return DatabaseProblem(f"database {masked_url(url)}: {driver_error(exc)}")


def schema_revisions(url: str) -> tuple[str | None, str]:
    """(the database's schema revision or None, the one this code needs)."""
    try:
        return migrate.current_revision(url), migrate.head_revision()
    except sa.exc.SQLAlchemyError as exc:
        raise database_problem(url, exc) from None
    except OSError as exc:  # a SQLite file in a directory that does not exist
        raise DatabaseProblem(
            f"database {masked_url(url)}: {exc.strerror}: start `syncstorage serve` once,"
            " or run `syncstorage db upgrade`"
        ) from None


def require_current_schema(url: str) -> None:
    """For commands that work on the data: refuse an old or missing schema."""
    revision, head = schema_revisions(url)
    if revision != head:
        raise DatabaseProblem(
            f"database schema is {revision or 'missing'}, this version needs {head}: run `syncstorage db upgrade`"
        )


def upgrade_schema(url: str, layout: dict | None = None) -> tuple[str | None, str]:
    """Bring the schema to the newest revision; returns (before, after).
    `layout` is Settings.storage_layout (sharding), for the storage database."""
    before, head = schema_revisions(url)
    if before != head:
        try:
            # another server may have migrated while this one waited for the lock
            before = migrate.upgrade(url, **(layout or {}))
        except migrate.MigrationBusy as exc:
            raise DatabaseProblem(f"database {masked_url(url)}: {exc}") from None
        except sa.exc.SQLAlchemyError as exc:
            problem = database_problem(url, exc)
            if before is None and _is_old_syncserver(url):
                # a new exception: click declares ClickException.message Final
                problem = DatabaseProblem(
                    problem.message + "; this looks like the database of Mozilla's syncserver: copy"
                    " it into a new database with `syncstorage import-syncserver` (docs/moving-in.md)"
                )
            raise problem from None
    return before, head


def _is_old_syncserver(url: str) -> bool:
    """Whether a first migration failed because this is the database of
    Mozilla's syncserver (not, say, because another server created our schema
    in the meantime)."""
    try:
        return migrate.current_revision(url) is None and has_syncserver_tables(url)
    except sa.exc.SQLAlchemyError:
        return False


def ensure_schema(url: str, layout: dict | None = None) -> bool:
    """Used by `serve`: a new database gets its tables, an old one is
    upgraded. Returns whether it created the schema."""
    before, head = upgrade_schema(url, layout)
    if before is None:
        log.info("created the database schema (revision %s) in %s", head, masked_url(url))
    elif before != head:
        log.info("upgraded the database schema from %s to %s", before, head)
    return before is None


@click.group()
def db() -> None:
    """The database schema."""


@db.command()
@config_option
def upgrade(config_file) -> None:
    """Create the tables, or upgrade them to this version's schema."""
    settings = settings_from(config_file)
    ensure_default_data_dir(settings)
    urls = [settings.effective_database_url]
    if settings.effective_tokenserver_database_url not in urls:
        urls.append(settings.effective_tokenserver_database_url)  # the tokenserver's own database
    for url in urls:
        before, head = upgrade_schema(url, settings.storage_layout if url == urls[0] else None)
        where = "" if url == urls[0] else f" in {masked_url(url)}"
        if before == head:
            click.echo(f"schema already current (revision {head}){where}")
        else:
            click.echo(f"schema upgraded from {before or 'empty database'} to {head}{where}")


@db.command()
@config_option
def current(config_file) -> None:
    """Show the schema revision of the database and whether it is current.
    Exit code 1 when it needs `db upgrade`."""
    revision, head = schema_revisions(settings_from(config_file).effective_database_url)
    if revision == head:
        click.echo(f"{revision} (current)")
        return
    click.echo(f"{revision or 'no schema'} (this version needs {head}: run `syncstorage db upgrade`)")
    raise SystemExit(1)
