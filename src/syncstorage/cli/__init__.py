"""The `syncstorage` command: one click group, one module per topic.

Settings come from defaults < a TOML file (`--config`) < SYNCSTORAGE_*
environment variables < command-line flags (see syncstorage.config). Any
invalid value stops the command with one line and exit code 2.
"""

from __future__ import annotations

import click

from syncstorage import __version__
from syncstorage.cli.account import account
from syncstorage.cli.admin import admin
from syncstorage.cli.check import check
from syncstorage.cli.configuration import config, secret
from syncstorage.cli.db import db
from syncstorage.cli.import_syncserver import import_syncserver_command
from syncstorage.cli.node import node
from syncstorage.cli.purge import purge
from syncstorage.cli.serve import serve
from syncstorage.cli.stats import stats
from syncstorage.cli.user import user


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="syncstorage")
def cli() -> None:
    """A Firefox Sync 1.5 server: storage and tokenserver in one process.

    Every setting can be given in a TOML file (--config FILE, or
    SYNCSTORAGE_CONFIG), as an environment variable SYNCSTORAGE_<NAME>
    (e.g. SYNCSTORAGE_PUBLIC_URL) or, for some, as a flag; later ones win.
    See docs/configuration.md.
    """


for command in (serve, config, secret, db, purge, check, node, user, stats, account, import_syncserver_command, admin):
    cli.add_command(command)


def main() -> None:
    cli(prog_name="syncstorage")
