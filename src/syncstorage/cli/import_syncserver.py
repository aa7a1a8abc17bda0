"""`syncstorage import-syncserver SOURCE_URL`: move in from Mozilla's old
Python syncserver, keeping every user's data and uid (docs/moving-in.md)."""

from __future__ import annotations

import click
import sqlalchemy as sa

from syncstorage import master_secret as secret_file
from syncstorage.cli.common import SettingsProblem, config_option, settings_from
from syncstorage.cli.db import DatabaseProblem, database_problem, ensure_schema
from syncstorage.config import masked_url
from syncstorage.logs import setup_logging
from syncstorage.storage.sql import SQLStorage
from syncstorage.storage import StorageError
from syncstorage.syncserver_import import SourceProblem, import_syncserver
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
    public_url. The old database is only read. Running it again copies only
    what is missing. Use the same settings as `serve` (public_url!)."""
    settings = settings_from(config_file)
    setup_logging(settings.log_format)
    if settings.database_url is None:  # the default SQLite file lives in data_dir
        try:
            secret_file.ensure_data_dir(settings.data_dir)
        except OSError as exc:
            raise SettingsProblem(f"invalid setting data_dir: {exc}") from None
    url = settings.effective_database_url
    ensure_schema(url, settings.storage_layout)
    storage = SQLStorage(url, **settings.storage_layout)
    token_engine = make_engine(settings.effective_tokenserver_database_url)
    try:
        summary = import_syncserver(
            source_url,
            storage,
            token_engine,
            node_url=settings.effective_public_url,
            node_capacity=settings.init_node_capacity,
            chunk_size=chunk_size,
        )
    except SourceProblem as exc:
        raise DatabaseProblem(f"{masked_url(source_url)}: {exc}") from None
    except sa.exc.SQLAlchemyError as exc:
        raise database_problem(url, exc) from None
    except StorageError as exc:  # this server's database is busy or down
        raise DatabaseProblem(f"database {masked_url(url)}: {exc}; run the import again") from None
    except ValueError as exc:  # e.g. a public_url too long for nodes.node
        raise SettingsProblem(str(exc)) from None
    finally:
        token_engine.dispose()
        storage.close()
    click.echo(f"imported {masked_url(source_url)} into {masked_url(url)}")
    for line in summary.lines():
        click.echo(line)
