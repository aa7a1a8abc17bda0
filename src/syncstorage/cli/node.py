"""`syncstorage node …`: the tokenserver's storage nodes (auth-and-tokens
§10), for operators.

It works on `tokenserver_database_url` (by default the storage database),
whose schema `syncstorage db upgrade` creates; so does `user list`
(cli/user.py), with the same `TokenserverDatabase`.
"""

from __future__ import annotations

import click
import sqlalchemy as sa

from syncstorage.cli.common import config_option, settings_from
from syncstorage.cli.db import DatabaseProblem, database_problem, require_current_schema
from syncstorage.cli.node_migrate import node_migrate
from syncstorage.cli.tables import print_table
from syncstorage.tokenserver import admin
from syncstorage.tokenserver.db import make_engine


class TokenserverDatabase:
    """The tokenserver engine for one command, with database errors as one line."""

    def __init__(self, config_file) -> None:
        self.settings = settings_from(config_file)
        self.url = self.settings.effective_tokenserver_database_url
        require_current_schema(self.url)

    def __enter__(self) -> sa.Engine:
        self.engine = make_engine(self.url)
        return self.engine

    def __exit__(self, exc_type, exc, _tb) -> None:
        self.engine.dispose()
        if isinstance(exc, sa.exc.SQLAlchemyError):
            raise database_problem(self.url, exc) from None
        if isinstance(exc, (admin.NodeNotFound, ValueError)):
            raise DatabaseProblem(str(exc).strip("'\"")) from None


def _node_options(adding: bool):
    """The node fields as options; `update` leaves unnamed fields alone."""

    def default(for_add: str) -> str:
        return f" [default {for_add}]" if adding else ""

    def decorate(command):
        for flag, help_text in [
            ("--capacity", "Most users the node may hold." + default("init_node_capacity")),
            ("--available", "Slots that may be handed out now." + default("capacity minus load")),
            ("--current-load", "Users assigned to the node." + default("0")),
        ]:
            command = click.option(flag, type=click.IntRange(min=0), default=None, help=help_text)(command)
        for flag, help_text in [
            ("--downed/--not-downed", "Out of service: no new users." + default("not downed")),
            ("--backoff/--no-backoff", "Temporarily no new users." + default("no backoff")),
        ]:
            command = click.option(flag, default=None, help=help_text)(command)
        return command

    return decorate


@click.group()
def node() -> None:
    """Storage nodes users are assigned to."""


node.add_command(node_migrate)


@node.command("list")
@config_option
def node_list(config_file) -> None:
    """Show every node."""
    with TokenserverDatabase(config_file) as engine:
        rows = admin.list_nodes(engine)
    columns = ["id", "node", "capacity", "current_load", "available", "downed", "backoff"]
    print_table("storage nodes", columns, [[getattr(row, name) for name in columns] for row in rows])


@node.command("add")
@config_option
@click.argument("url")
@_node_options(adding=True)
def node_add(config_file, url, capacity, available, current_load, downed, backoff) -> None:
    """Add the storage node at URL (its public_url, path prefix included)."""
    database = TokenserverDatabase(config_file)
    if capacity is None:
        capacity = database.settings.init_node_capacity
    with database as engine:
        node_id = admin.add_node(
            engine, url, capacity,
            available=available, current_load=current_load or 0,
            downed=bool(downed), backoff=bool(backoff),
        )
    click.echo(f"added node {url.rstrip('/')} (id {node_id})")


@node.command("update")
@config_option
@click.argument("url")
@_node_options(adding=False)
def node_update(config_file, url, **fields) -> None:
    """Change the given fields of the node at URL; the others stay as they are."""
    with TokenserverDatabase(config_file) as engine:
        admin.update_node(engine, url, **fields)
    click.echo(f"updated node {url.rstrip('/')}")


@node.command("drain")
@config_option
@click.argument("url")
def node_drain(config_file, url) -> None:
    """Give the node no new users and move its users to other nodes: each
    gets a new node at its next sync, and Firefox uploads its data there
    (`node migrate` moves users with their data instead)."""
    with TokenserverDatabase(config_file) as engine:
        moved = admin.drain_node(engine, url)
    click.echo(f"drained node {url.rstrip('/')}: {moved} users will move at their next sync")


@node.command("remove")
@config_option
@click.argument("url")
def node_remove(config_file, url) -> None:
    """Delete the node; its users move to other nodes at their next sync."""
    with TokenserverDatabase(config_file) as engine:
        moved = admin.remove_node(engine, url)
    click.echo(f"removed node {url.rstrip('/')}: {moved} users will move at their next sync")
