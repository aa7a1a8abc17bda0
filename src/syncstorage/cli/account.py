"""`syncstorage account add|list|invite|reset-password|disable|enable|delete|rotate-key`:
the built-in accounts server's accounts (docs/accounts.md)."""

from __future__ import annotations

import time

import click
import sqlalchemy as sa

from syncstorage.account_removal import AccountRemoval, StoredDataLeft
from syncstorage.accounts import admin, signing
from syncstorage.cli.common import config_option, settings_from
from syncstorage.cli.db import DatabaseProblem, database_problem, require_current_schema
from syncstorage.cli.tables import format_time, print_table
from syncstorage.cli.user import open_storage
from syncstorage.settings import Settings

EMAIL_ARGUMENT = click.argument("email")


class AccountsDatabase:
    """The accounts tables for one command, with database errors as one line."""

    def __init__(self, config_file) -> None:
        self.settings: Settings = settings_from(config_file)
        self.url = self.settings.effective_tokenserver_database_url
        require_current_schema(self.url)

    def __enter__(self) -> sa.Engine:
        self.engine = admin.make_engine(self.url)
        return self.engine

    def __exit__(self, exc_type, exc, _tb) -> None:
        self.engine.dispose()
        if isinstance(exc, sa.exc.SQLAlchemyError):
            raise database_problem(self.url, exc) from None
        if isinstance(exc, (admin.AccountProblem, StoredDataLeft)):
            raise DatabaseProblem(str(exc)) from None


def _now_ms() -> int:
    return int(time.time() * 1000)


@click.group()
def account() -> None:
    """Accounts of the built-in accounts server (accounts_enabled)."""


@account.command()
@config_option
@EMAIL_ARGUMENT
@click.password_option(help="The password (asked twice when not given).")
def add(config_file, email: str, password: str) -> None:
    """Create a verified account for EMAIL. The password is stretched as the
    sign-in page does it; only its verifier is stored."""
    if len(password) < 8:
        raise click.BadParameter("use at least 8 characters", param_hint="password")
    with AccountsDatabase(config_file) as engine:
        uid = admin.add_account(engine, email, password, _now_ms())
    click.echo(f"created account {email} (uid {uid})")


@account.command("list")
@config_option
def account_list(config_file) -> None:
    """Show every account, oldest first."""
    with AccountsDatabase(config_file) as engine:
        rows = admin.list_accounts(engine)
    print_table(
        "accounts",
        ["email", "uid", "created", "password set", "keys changed", "disabled"],
        [(r.email, r.uid, format_time(r.created_at), format_time(r.verifier_set_at), format_time(r.keys_changed_at),
          format_time(r.disabled_at))
         for r in rows],
    )


@account.command()
@config_option
@click.option("--email", default=None, help="Only this address may use the invitation.")
def invite(config_file, email: str | None) -> None:
    """Print an invitation code for the sign-up page (accounts_signup = invite),
    usable once within accounts_invite_ttl seconds."""
    database = AccountsDatabase(config_file)
    with database as engine:
        code = admin.invite(engine, email, _now_ms(), database.settings.accounts_invite_ttl)
    click.echo(code)


@account.command("reset-password")
@config_option
@EMAIL_ARGUMENT
def reset_password(config_file, email: str) -> None:
    """Print a one-time reset code for EMAIL's "reset password" page. A reset
    makes a new sync key: the account's Firefoxes sign in again and start a
    fresh sync from their local data."""
    database = AccountsDatabase(config_file)
    with database as engine:
        code = admin.reset_token(engine, admin.find(engine, email), _now_ms(), database.settings.accounts_reset_ttl)
    click.echo(code)


@account.command()
@config_option
@EMAIL_ARGUMENT
def disable(config_file, email: str) -> None:
    """Disable EMAIL's account: it cannot sign in, its sessions, devices and
    refresh tokens end, and the tokenserver refuses its access tokens (its
    Firefoxes stop syncing once their storage token expires). Its data stays."""
    _set_disabled(config_file, email, True)


@account.command()
@config_option
@EMAIL_ARGUMENT
def enable(config_file, email: str) -> None:
    """Enable EMAIL's disabled account again: it can sign in (each Firefox
    signs in again) and sync as before."""
    _set_disabled(config_file, email, False)


def _set_disabled(config_file, email: str, disabled: bool) -> None:
    with AccountsDatabase(config_file) as engine:
        admin.set_disabled(engine, admin.find(engine, email), disabled, _now_ms())
    click.echo(f"{'disabled' if disabled else 'enabled'} account {email}")


@account.command()
@config_option
@EMAIL_ARGUMENT
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def delete(config_file, email: str, yes: bool) -> None:
    """Delete EMAIL's account, its sessions and devices, its synced data (in
    this server's storage database) and its tokenserver records."""
    database = AccountsDatabase(config_file)
    if not yes:
        click.confirm(f"Delete the account {email} and all its synced data?", abort=True)
    storage = open_storage(database.settings)
    try:
        with database as engine:
            removal = AccountRemoval(engine, storage, database.settings.fxa_email_domain)
            removed = removal.delete_account(admin.find(engine, email))
    finally:
        storage.close()
    click.echo(f"deleted account {email} (uid {removed.uid})")
    for uid in removed.storage_uids:
        click.echo(f"deleted the stored data of uid {uid}")


@account.command("rotate-key")
@config_option
def rotate_key(config_file) -> None:
    """Add a new access-token signing key in the data directory; the previous
    key stays published so tokens signed with it stay valid. Restart the
    server to use it."""
    settings = settings_from(config_file)
    keys = signing.rotate(settings.data_dir)
    click.echo(f"new signing key {keys[-1].kid}; keys published: {', '.join(k.kid for k in keys)}")
