"""`syncstorage user list|show|delete`: the tokenserver's user records
(auth-and-tokens §8) and, for `show` and `delete USER`, one user's stored
data.

USER is a storage uid (digits), a tokenserver email `<fxa uid>@<domain>`, or
an FxA uid (32 hex digits), which becomes `<fxa uid>@<fxa_email_domain>`
(auth-and-tokens §8). An email can name several uids: each time a user's
keys change the tokenserver gives them a new record, and so a new uid (§9).
"""

from __future__ import annotations

from collections.abc import Sequence

import click
import sqlalchemy as sa

from syncstorage.cli.common import config_option, settings_from
from syncstorage.cli.db import DatabaseProblem, database_problem, require_current_schema
from syncstorage.cli.node import TokenserverDatabase
from syncstorage.cli.tables import format_time, print_table
from syncstorage.settings import Settings
from syncstorage.storage import StorageError
from syncstorage.storage.sql import SQLStorage
from syncstorage.tokenserver import admin
from syncstorage.tokenserver.db import make_engine

USER_ARGUMENT = click.argument("user", metavar="USER")


@click.group()
def user() -> None:
    """Users known to the tokenserver."""


@user.command("list")
@config_option
@click.option("--email", default=None, help="Only this user (<fxa uid>@<fxa_email_domain>).")
@click.option("--all", "include_replaced", is_flag=True, help="Include replaced records.")
def user_list(config_file, email, include_replaced) -> None:
    """Show user records, newest first."""
    with TokenserverDatabase(config_file) as engine:
        rows = admin.list_users(engine, email=email, include_replaced=include_replaced)
    print_token_records(rows)


def token_records(settings: Settings, user: str) -> Sequence[sa.Row]:
    """The tokenserver rows USER names, newest first, with their node URL
    ([] for a bare uid that has none)."""
    if user.isdigit():
        uid, email = int(user), None
    else:
        uid, email = None, user if "@" in user else f"{user.lower()}@{settings.fxa_email_domain}"
    url = settings.effective_tokenserver_database_url
    engine = make_engine(url)
    try:
        rows = admin.user_records(engine, uid=uid, email=email)
    except sa.exc.SQLAlchemyError as exc:
        raise database_problem(url, exc) from None
    finally:
        engine.dispose()
    if email is not None and not rows:
        raise DatabaseProblem(f"no tokenserver user with email {email}")
    return rows


def print_token_records(records: Sequence[sa.Row]) -> None:
    """Tokenserver user rows (with their node URL), as `user show` and
    `user list` print them."""
    print_table(
        "tokenserver records",
        ["uid", "email", "generation", "keys changed", "client state", "created", "replaced", "node"],
        [
            (r.uid, r.email, r.generation, format_time(r.keys_changed_at), r.client_state or "-",
             format_time(r.created_at), format_time(r.replaced_at), r.node or f"(gone: {r.nodeid})")
            for r in records
        ],
    )


def uids_of(user: str, records: Sequence[sa.Row]) -> list[int]:
    return [int(user)] if user.isdigit() else [row.uid for row in records]


def collection_rows(storage: SQLStorage, uid: int) -> list[tuple[str, int, int, str]]:
    """(collection, live items, live bytes, last modified) for each collection."""
    try:
        collections = storage.user_collections(uid)
    except StorageError as exc:  # busy or down
        raise DatabaseProblem(f"could not read the data of uid {uid}: {exc}; try again") from None
    return [(c.name, c.items, c.bytes, format_time(c.last_modified)) for c in collections]


def open_storage(settings: Settings) -> SQLStorage:
    url = settings.effective_database_url
    require_current_schema(url)
    return SQLStorage(url, **settings.storage_layout)


@user.command()
@config_option
@USER_ARGUMENT
def show(config_file, user: str) -> None:
    """Show USER's tokenserver records and, per uid, each collection with its
    item count, bytes and last modification."""
    settings = settings_from(config_file)
    storage = open_storage(settings)
    try:
        records = token_records(settings, user)
        if records:
            print_token_records(records)
        for uid in uids_of(user, records):
            rows = collection_rows(storage, uid)
            if not rows:
                click.echo(f"uid {uid}: no stored data")
                continue
            total = ("total", sum(r[1] for r in rows), sum(r[2] for r in rows), "")
            print_table(f"uid {uid}: stored data", ["collection", "items", "bytes", "last modified"], [*rows, total])
    finally:
        storage.close()


@user.command()
@config_option
@USER_ARGUMENT
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def delete(config_file, user: str, yes: bool) -> None:
    """Delete all stored data of USER (every uid of an email), as the client's
    DELETE /1.5/{uid} does (storage-api §4.4); the tokenserver records stay,
    so the user's next sync starts over from their devices."""
    settings = settings_from(config_file)
    storage = open_storage(settings)
    try:
        uids = uids_of(user, token_records(settings, user))
        described = []
        for uid in uids:
            rows = collection_rows(storage, uid)
            described.append(f"uid {uid} ({len(rows)} collections, {sum(r[1] for r in rows)} items)")
        if not yes:
            click.confirm(f"Delete all stored data of {', '.join(described)}?", abort=True)
        delete_stored_data(storage, uids)
    finally:
        storage.close()


def delete_stored_data(storage: SQLStorage, uids: Sequence[int]) -> None:
    for uid in uids:
        try:
            storage.delete_user_data(uid)
        except StorageError as exc:
            raise DatabaseProblem(f"could not delete the data of uid {uid}: {exc}; try again") from None
        click.echo(f"deleted the stored data of uid {uid}")

