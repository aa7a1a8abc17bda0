"""`syncstorage config show` and `syncstorage secret generate`."""

from __future__ import annotations

import click

from syncstorage import master_secret as secret_file
from syncstorage.cli.common import config_option, settings_from
from syncstorage.config import render_settings


@click.group()
def config() -> None:
    """Inspect the effective settings."""


@config.command("show")
@config_option
def show(config_file) -> None:
    """Print the effective settings as TOML, secrets masked, each with where
    its value comes from (default, config file, environment)."""
    settings = settings_from(config_file)
    click.echo(render_settings(settings, {}, config_file))


@click.group()
def secret() -> None:
    """Master secrets."""


@secret.command("generate")
def generate() -> None:
    """Print a new random master secret (64 hex characters).

    To rotate: set SYNCSTORAGE_MASTER_SECRET to a JSON array with the old
    secret first and the new one last, wait one token lifetime (an hour),
    then remove the old one."""
    click.echo(secret_file.generate_secret())
