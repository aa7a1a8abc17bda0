"""`syncstorage purge`: delete expired items and stale batches.

Expired items are already invisible to clients (storage-api §11); purging
only reclaims space. Work is bounded: each pass deletes at most
--batch-size rows per table, each in its own short transaction
(storage-model §8), so a purge never holds locks that clients would wait on.
"""

from __future__ import annotations

import logging
import signal
import sys
import time
from dataclasses import dataclass

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from syncstorage.cli.common import config_option, settings_from
from syncstorage.cli.db import require_current_schema
from syncstorage.logs import setup_logging
from syncstorage.storage.sql import PurgeResult, SQLStorage

log = logging.getLogger("syncstorage.purge")


@dataclass
class Totals:
    expired_items: int = 0
    stale_batches: int = 0
    stale_batch_items: int = 0

    def add(self, result: PurgeResult) -> None:
        self.expired_items += result.expired_items
        self.stale_batches += result.stale_batches
        self.stale_batch_items += result.stale_batch_items

    @property
    def rows(self) -> int:
        return self.expired_items + self.stale_batches + self.stale_batch_items

    def __str__(self) -> str:
        return (
            f"{self.expired_items} expired items, {self.stale_batches} stale batches, "
            f"{self.stale_batch_items} staged batch items"
        )


def purge_once(storage: SQLStorage, grace: int, batch_size: int, progress: Progress | None) -> Totals:
    """Delete in bounded passes until a pass finds nothing more to do."""
    totals, passes, started = Totals(), 0, time.monotonic()
    started_at = storage.clock.now_ms()
    task = None
    if progress is not None:
        todo = storage.purge(grace=grace, dry_run=True)  # only to size the bar
        task = progress.add_task("purging", total=todo.expired_items + todo.stale_batches + todo.stale_batch_items)
    while True:
        result = storage.purge(grace=grace, max_per_loop=batch_size, max_loops=1)
        passes += 1
        totals.add(result)
        if progress is not None and task is not None:  # task is set only with a progress bar
            progress.update(task, completed=totals.rows)
        else:
            log.info("pass %d deleted %s", passes, Totals(result.expired_items, result.stale_batches, result.stale_batch_items))
        if not result.incomplete:
            break
    if progress is not None and task is not None:
        progress.remove_task(task)
    log.info("purge done: %d passes in %.1f s deleted %s", passes, time.monotonic() - started, totals)
    storage.record_purge(started_at, (totals.expired_items, totals.stale_batches, totals.stale_batch_items), "command")
    return totals


DEFAULT_GRACE = 86400  # seconds
DEFAULT_BATCH_SIZE = 1000  # rows per table per pass


@click.command()
@config_option
@click.option(
    "--grace",
    default=DEFAULT_GRACE,
    show_default=True,
    type=click.IntRange(min=0),
    metavar="SECONDS",
    help="Keep items this long past their expiry, and batches this long past their 2-hour lifetime.",
)
@click.option(
    "--batch-size",
    default=DEFAULT_BATCH_SIZE,
    show_default=True,
    type=click.IntRange(min=1),
    metavar="ROWS",
    help="Most rows one pass deletes from each table (one short transaction).",
)
@click.option("--dry-run", is_flag=True, help="Only count what would be deleted.")
@click.option(
    "--interval",
    default=None,
    type=click.IntRange(min=1),
    metavar="SECONDS",
    help="Purge again every SECONDS until stopped (default: once).",
)
def purge(config_file, grace, batch_size, dry_run, interval) -> None:
    """Delete expired items and stale batch uploads, on any database.

    Shows a progress bar on a terminal and plain log lines otherwise."""
    settings = settings_from(config_file)
    setup_logging(settings.log_format)
    url = settings.effective_database_url
    require_current_schema(url)
    storage = SQLStorage(url, **settings.storage_layout)
    # systemd and docker stop with SIGTERM: finish like Ctrl-C, between passes'
    # transactions or rolled back, never half-applied.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    console = Console(stderr=True)
    try:
        while True:
            if dry_run:
                todo = storage.purge(grace=grace, dry_run=True)
                log.info("dry run: would delete %s", Totals(todo.expired_items, todo.stale_batches, todo.stale_batch_items))
            elif console.is_terminal:
                with Progress(
                    TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, transient=True,
                ) as progress:
                    purge_once(storage, grace, batch_size, progress)
            else:
                purge_once(storage, grace, batch_size, None)
            if interval is None:
                return
            time.sleep(interval)
    except KeyboardInterrupt:
        log.info("purge stopped")
    finally:
        storage.close()
