"""Helpers of the operations tests: `syncstorage` commands run in-process
(click's runner: faster than a child process, the same code path) and a
migrated storage on each real database."""

from __future__ import annotations

import os

import pytest

from click.testing import CliRunner, Result

from syncstorage.cli import cli
from syncstorage.storage import BSOUpdate
from syncstorage.storage.sql import SQLStorage
from syncstorage.storage.sql.migrate import upgrade


def invoke(database_url: str, *args: str, input: str | None = None, terminal: bool = False, **settings: str) -> Result:
    """Run `syncstorage ARGS` with only these settings in the environment;
    `terminal` makes rich treat the output as a terminal (FORCE_COLOR)."""
    env = {name: None for name in os.environ if name.startswith("SYNCSTORAGE_") and not name.startswith("SYNCSTORAGE_TEST_")}
    env["FORCE_COLOR"] = "1" if terminal else None
    env["SYNCSTORAGE_DATABASE_URL"] = database_url
    env.update({f"SYNCSTORAGE_{name.upper()}": value for name, value in settings.items()})
    return CliRunner().invoke(cli, list(args), env=env, input=input, catch_exceptions=False)


def upload(storage: SQLStorage, uid: int, collection: str, *payloads: str, ttl: int | None = None) -> int:
    """Store records through the storage interface, as a PUT/POST would."""
    with storage.session(uid, collection, write=True) as session:
        return session.set_items(
            [BSOUpdate(id=f"{collection}{n}", payload=p, ttl=ttl) for n, p in enumerate(payloads)]
        )


@pytest.fixture
def storage(database_url):
    """SQLStorage on a migrated empty database (import it into a test module)."""
    upgrade(database_url)
    storage = SQLStorage(database_url)
    yield storage
    storage.close()
