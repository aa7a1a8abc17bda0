"""`syncstorage admin hash-token`: the value of the admin_token setting.

The admin page (syncstorage.admin) is signed in to with a token whose hash
alone is stored in the settings; this command makes that hash.
"""

from __future__ import annotations

import sys

import click

from syncstorage.tokenhash import MAX_TOKEN_CHARACTERS, MIN_TOKEN_CHARACTERS, hash_token


@click.group()
def admin() -> None:
    """The admin page's sign-in token."""


@admin.command("hash-token")
def hash_token_command() -> None:
    """Read a token (from stdin, or a hidden prompt on a terminal) and print
    its scrypt hash: the value of admin_token (SYNCSTORAGE_ADMIN_TOKEN).
    Sign in to the admin page with the token itself."""
    if sys.stdin.isatty():
        token = click.prompt("Admin token", hide_input=True, confirmation_prompt=True)
    else:
        token = sys.stdin.read(MAX_TOKEN_CHARACTERS + 2).rstrip("\r\n")
    if not MIN_TOKEN_CHARACTERS <= len(token) <= MAX_TOKEN_CHARACTERS:
        raise click.ClickException(
            f"the token must have {MIN_TOKEN_CHARACTERS} to {MAX_TOKEN_CHARACTERS} characters "
            "(`openssl rand -base64 32` makes a good one)"
        )
    click.echo(hash_token(token))
    click.echo(
        "set admin_token to this line (in a TOML file or SYNCSTORAGE_ADMIN_TOKEN; "
        "quote it in a shell: it contains $)",
        err=True,
    )
