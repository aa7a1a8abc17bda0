"""Fixtures of the hostile-client tests (issue 10): real server processes on
SQLite, started with the settings a test gives; the helpers the attacks
share are in support/hostile.py."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from support.server import RunningServer, start_server

Start = Callable[..., RunningServer]


def _servers(directory: Path) -> Iterator[Start]:
    started: list[RunningServer] = []

    def start(**settings: str) -> RunningServer:
        running = start_server(
            directory / f"data{len(started)}", master_secret=secrets.token_hex(32), **settings
        )
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()
        print(running.log())  # shown by pytest when the test failed


@pytest.fixture
def start(tmp_path) -> Iterator[Start]:
    """start(**settings) -> a running server on SQLite (settings as
    SYNCSTORAGE_* values), stopped after the test."""
    yield from _servers(tmp_path)


@pytest.fixture(scope="module")
def start_shared(tmp_path_factory) -> Iterator[Start]:
    """Like `start`, for servers the tests of one module share (each start
    costs a second or more): stopped after the module."""
    yield from _servers(tmp_path_factory.mktemp("hostile"))


@pytest.fixture(scope="module")
def server(start_shared) -> RunningServer:
    """A server with the default settings, shared by the module's tests."""
    return start_shared()
