"""`syncstorage import-syncserver SOURCE_URL`: move in from Mozilla's old
Python syncserver, keeping every user's data and uid (docs/moving-in.md)."""

from __future__ import annotations

import click
import sqlalchemy as sa

from syncstorage.cli.common import SettingsProblem, config_option, ensure_default_data_dir, settings_from
from syncstorage.cli.db import DatabaseProblem, database_problem, ensure_schema
from syncstorage.config import masked_url
from syncstorage.logs import setup_logging
from syncstorage.storage import StorageError
from syncstorage.storage.sql import SQLStorage
from syncstorage.syncserver_import import ImportSummary, SourceProblem, import_syncserver, open_source
from syncstorage.tokenserver.db import make_engine


@click.command("import-syncserver")
@config_option
@click.argument("source_url", metavar="SOURCE_URL")
@click.option(
    "--chunk-size",
    default=1000,
    show_default=True,
    type=click.IntRange(min=1),
    metavar="ROWS",
    help="Most rows read per query and written per transaction.",
)
def import_syncserver_command(config_file, source_url: str, chunk_size: int) -> None:
    """Copy the database of a Mozilla syncserver into this server's database.

    SOURCE_URL is the old `sqluri`, e.g. sqlite:////var/lib/syncserver/syncserver.db
    or mysql://user:password@host/syncstorage. Stored records, their
    timestamps and expiry, collection timestamps and tokenserver user records
    are copied with their uids; every user is assigned to this server's
    public_url. The old database is only read, and checked before anything is
    written: a refused import leaves this server's database as it was.
    Running it again copies only what is missing. Use the same settings as
    `serve` (public_url!)."""
    settings = settings_from(config_file)
    setup_logging(settings.log_format)
    url, token_url = settings.effective_database_url, settings.effective_tokenserver_database_url
    try:
        source = open_source(source_url, {"database_url": url, "tokenserver_database_url": token_url})
    except SourceProblem as exc:
        raise DatabaseProblem(f"the source {masked_url(source_url)}: {exc}") from None
    summary = ImportSummary(node=settings.effective_public_url)
    try:
        ensure_default_data_dir(settings)
        created = []  # the databases whose schema this run creates, for the report of a failure
        for target in dict.fromkeys([url, token_url]):  # the tokenserver's own database, if it has one
            if ensure_schema(target, settings.storage_layout if target == url else None):
                created.append(target)
        storage = SQLStorage(url, **settings.storage_layout)
        token_engine = make_engine(token_url)
        try:
            import_syncserver(source, storage, token_engine, summary, settings.init_node_capacity, chunk_size)
        except SourceProblem as exc:  # e.g. the old database went away
            raise _stopped(f"the source {masked_url(source_url)}: {exc}", summary, created) from None
        except sa.exc.SQLAlchemyError as exc:
            raise _stopped(database_problem(url, exc).message, summary, created) from None
        except StorageError as exc:  # this server's database is busy or down
            raise _stopped(f"database {masked_url(url)}: {exc}", summary, created) from None
        except ValueError as exc:  # e.g. a public_url too long for nodes.node
            raise SettingsProblem(f"{exc}; {_left(summary, created)}") from None
        finally:
            token_engine.dispose()
            storage.close()
    finally:
        source.close()
    click.echo(f"imported {masked_url(source_url)} into {masked_url(url)}")
    for line in summary.lines():
        click.echo(line)


def _left(summary: ImportSummary, created: list[str]) -> str:
    schemas = [f"the schema of {masked_url(u)}" for u in created]
    return f"the import stopped and left: {', '.join(schemas + [summary.left()])}"


def _stopped(reason: str, summary: ImportSummary, created: list[str]) -> DatabaseProblem:
    return DatabaseProblem(f"{reason}; {_left(summary, created)}; run the import again to finish (it copies only what is missing)")
