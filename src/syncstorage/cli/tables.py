"""Tables for operators: a rich table on a terminal, tab-separated lines
otherwise (for `cut`, `awk` and scripts), and readable timestamps.

Every command that prints a table uses `print_table`, so they all look
alike: `node list`, `user list`, `user show`, `stats`."""

from __future__ import annotations

from collections.abc import Sequence

import click
from rich.console import Console
from rich.table import Table

from syncstorage.timestamps import format_time as format_time  # the commands' name for it


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Print `rows` under `columns`: on a terminal a table titled `title`,
    numbers right-aligned with thousands separators; otherwise a `# title`
    line (one command may print several tables), the column names, then one
    line per row, fields separated by tabs."""
    console = Console()
    if not console.is_terminal:
        click.echo(f"# {title}")
        for line in (columns, *rows):
            click.echo("\t".join(str(cell) for cell in line))
        return
    table = Table(title=title, title_justify="left")
    numeric = [bool(rows) and all(isinstance(row[i], int) for row in rows) for i in range(len(columns))]
    for name, is_number in zip(columns, numeric):
        # fold, not the default ellipsis: a node URL or an account key cut
        # short at 80 columns cannot be copied into the next command.
        table.add_column(name, justify="right" if is_number else "left", overflow="fold")
    for row in rows:
        table.add_row(*(f"{cell:,}" if isinstance(cell, int) else str(cell) for cell in row))
    console.print(table)
