"""`syncstorage stats`: what the server holds, per collection.

Counts only live items (ttl in the future, as clients see them, storage-api
§11); expired rows waiting for `purge` are reported apart. Every number is
one aggregate query per table, in one short read transaction each
(`SQLStorage.stats`, storage/sql/maintenance.py).
"""

from __future__ import annotations

import click

from syncstorage.cli.common import config_option, settings_from
from syncstorage.cli.tables import format_time, print_table
from syncstorage.cli.user import open_storage


@click.command()
@config_option
def stats(config_file) -> None:
    """Users, live items and bytes per collection, and the last activity.

    A table on a terminal, tab-separated lines otherwise."""
    storage = open_storage(settings_from(config_file))
    try:
        by_name, users, expired, last_activity = storage.stats()
    finally:
        storage.close()
    rows = [
        (name, s.users, s.items, s.bytes, format_time(s.last_modified))
        for name, s in sorted(by_name.items(), key=lambda kv: (-kv[1].bytes, kv[0]))
    ]
    rows.append(("total", users, sum(s.items for s in by_name.values()), sum(s.bytes for s in by_name.values()), format_time(last_activity)))
    print_table("storage by collection", ["collection", "users", "items", "bytes", "last modified"], rows)
    click.echo(f"expired items awaiting purge: {expired}")
