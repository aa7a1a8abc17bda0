"""Helpers of the storage tests."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

from syncstorage.db.compiled import Driver
from syncstorage.storage import ConflictError


def write(storage, userid, collection, action, *, attempts=20):
    """Run `action(session)` in a write session, retrying the same-10-ms
    conflicts that back-to-back writes get (the HTTP layer retries too)."""
    for _ in range(attempts):
        try:
            with storage.session(userid, collection, write=True) as session:
                return action(session)
        except ConflictError:
            time.sleep(0.01)
    raise AssertionError("write kept conflicting")


def read(storage, userid, collection, action):
    with storage.session(userid, collection) as session:
        return action(session)


@contextlib.contextmanager
def executed_statements(storage) -> Iterator[list[tuple[str, Any]]]:
    """Collects (SQL, DB-API parameters) of every statement run on
    `storage`'s engine inside the block: through SQLAlchemy, and the hot
    statements run on the driver's connection (syncstorage.db.compiled)."""
    seen: list[tuple[str, Any]] = []

    def capture(_conn, _cursor, statement, parameters, _context, _many):
        seen.append((statement, parameters))

    def compiled_execute(self, compiled, values):
        seen.append((compiled.sql, _driver_params(compiled.params(values))))
        return original_execute(self, compiled, values)

    def compiled_executemany(self, compiled, rows):
        rows = list(rows)
        seen.append((compiled.sql, [_driver_params(compiled.params(row)) for row in rows]))
        return original_executemany(self, compiled, rows)

    original_execute, original_executemany = Driver._execute, Driver.executemany
    sa.event.listen(storage.engine, "before_cursor_execute", capture)
    Driver._execute, Driver.executemany = compiled_execute, compiled_executemany
    try:
        yield seen
    finally:
        Driver._execute, Driver.executemany = original_execute, original_executemany
        sa.event.remove(storage.engine, "before_cursor_execute", capture)


def _driver_params(params):
    """As `exec_driver_sql` takes them: a tuple, or the named style's dict."""
    return params if isinstance(params, dict) else tuple(params)
