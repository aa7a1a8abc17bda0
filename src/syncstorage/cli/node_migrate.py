"""`syncstorage node migrate --from A --to B`: move users between storage
nodes with their data (syncstorage/node_migration.py, docs/fleet.md)."""

from __future__ import annotations

import click
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from syncstorage import db
from syncstorage.cli.common import SettingsProblem, config_option, settings_from
from syncstorage.cli.db import DatabaseProblem, database_problem, require_current_schema
from syncstorage.config import masked_url
from syncstorage.logs import one_line
from syncstorage.node_migration import AnotherRun, NodeMove
from syncstorage.storage import UnavailableError
from syncstorage.storage.sql import SQLStorage
from syncstorage.tokenserver import admin
from syncstorage.tokenserver.db import make_engine


@click.command("migrate")
@config_option
@click.option("--from", "from_url", required=True, metavar="URL", help="The node the users leave (as in `node list`).")
@click.option("--to", "to_url", required=True, metavar="URL", help="The node they go to.")
@click.option(
    "--users", "limit", type=click.IntRange(min=1), default=None, metavar="N",
    help="Move at most N users: the next N still on the source node. [default: all]",
)
@click.option(
    "--from-database", metavar="URL", default=None,
    help="The source node's storage database. [default: the database_url setting]",
)
@click.option(
    "--to-database", metavar="URL", default=None,
    help="The destination node's storage database. [default: the database_url setting]",
)
@click.option(
    "--chunk-size", default=1000, show_default=True, type=click.IntRange(min=1, max=100_000), metavar="ROWS",
    help="Most rows read per query and written per transaction.",
)
def node_migrate(config_file, from_url, to_url, limit, from_database, to_database, chunk_size) -> None:
    """Move users from the node at --from to the node at --to, with their data.

    Each user is copied (records with their timestamps, sortindex and expiry,
    collection timestamps, custom collections by name), the copy is verified
    against the source, and only then does the tokenserver send the user to
    the new node; Firefox continues there without uploading again. During its
    move the source node answers the user 503 with Retry-After: 300, and
    keeps refusing the user afterwards: the source node's servers must run
    with allow_migration = true, and so must this command (same settings).
    The tokenserver database is tokenserver_database_url. A run that stops
    (a database away, kill -9) is run again and finishes; open batch uploads
    are not copied (Firefox sends those records again).
    """
    settings = settings_from(config_file)
    if not settings.allow_migration:
        raise SettingsProblem(
            "allow_migration is off: turn it on for the source node's servers (restart them) and for this"
            " command, or the source would keep taking the users' writes while they move"
        )
    from_url, to_url = from_url.rstrip("/"), to_url.rstrip("/")
    source_url = from_database or settings.effective_database_url
    dest_url = to_database or settings.effective_database_url
    if from_url == to_url:
        raise SettingsProblem("--from and --to name the same node")
    if source_url == dest_url or _same_database(source_url, dest_url):
        raise SettingsProblem(
            f"both nodes' data would be in {masked_url(source_url)}: give --from-database and --to-database"
        )
    token_url = settings.effective_tokenserver_database_url
    for url in dict.fromkeys([token_url, source_url, dest_url]):
        require_current_schema(url)
    token_engine = make_engine(token_url, database_timeout=settings.database_timeout)
    storages = []
    try:
        for url in (from_url, to_url):
            if _node(token_engine, token_url, url) is None:
                raise DatabaseProblem(f"no node {url!r} in the tokenserver database (see `syncstorage node list`)")
        for url in (source_url, dest_url):
            storages.append(
                SQLStorage(
                    url, **settings.storage_layout, pool_size=2,
                    lock_timeout=settings.lock_timeout, database_timeout=settings.database_timeout,
                )
            )
        move = NodeMove(
            storages[0], storages[1], token_engine, from_url, to_url,
            email_domain=settings.fxa_email_domain, chunk_size=chunk_size, say=click.echo,
        )
        try:
            summary = move.run(limit)
        except AnotherRun as exc:
            raise DatabaseProblem(str(exc)) from None
        except UnavailableError as exc:
            raise DatabaseProblem(one_line("a storage database is unavailable; run again to finish", exc)) from None
        except sa.exc.SQLAlchemyError as exc:
            raise DatabaseProblem(database_problem(token_url, exc).message + "; run again to finish") from None
    finally:
        for storage in storages:
            storage.close()
        token_engine.dispose()
    click.echo(summary.line(from_url, to_url))
    if summary.failed:
        raise DatabaseProblem(f"{len(summary.failed)} users were not moved (see above); they stay on {from_url}")


def _node(engine: sa.Engine, database_url: str, url: str) -> sa.Row | None:
    try:
        return admin.find_node(engine, url)
    except sa.exc.SQLAlchemyError as exc:
        raise database_problem(database_url, exc) from None


def _same_database(a: str, b: str) -> bool:
    """Two URLs written differently may name one database (db.same_database)."""
    try:
        return db.same_database(make_url(a), make_url(b))
    except sa.exc.ArgumentError:  # not a URL: opening it below says so in one line
        return False
