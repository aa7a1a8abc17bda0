"""`syncstorage check`: is this installation ready to serve Firefox?

Each check (syncstorage/checks.py) prints one PASS or FAIL line, and a hint
under every failure; the exit code is 1 when anything failed.
"""

from __future__ import annotations

import click

from syncstorage.checks import run_checks
from syncstorage.cli.common import config_option, settings_from


@click.command()
@config_option
def check(config_file) -> None:
    """Check the databases, schema, master secret, public URL and node
    registration, one PASS/FAIL line each with a hint; exit code 1 if any
    failed."""
    settings = settings_from(config_file)
    failed = 0
    for name, outcome in run_checks(settings):
        if outcome is None:
            failed += 1
            click.echo(f"SKIP {name}: needs the check above to pass")
        elif outcome.ok:
            click.echo(f"PASS {name}: {outcome.detail}")
        else:
            failed += 1
            click.echo(f"FAIL {name}: {outcome.detail}")
            click.echo(f"     hint: {outcome.hint}")
    if failed:
        raise SystemExit(1)
