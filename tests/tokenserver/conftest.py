"""Fixtures for the tokenserver tests: a tokenserver app on a real database,
talking to the mock accounts server (`fxa`, in tests/conftest.py)."""

from __future__ import annotations

import logging

import pytest

from support.tokenserver import NODE, TokenserverUnderTest, make_settings


@pytest.fixture
def make_tokenserver(database_url, fxa):
    """make_tokenserver(nodes={url: capacity}, **settings) -> TokenserverUnderTest"""
    made = []

    def make(node_capacities: dict[str, int] | None = None, **overrides) -> TokenserverUnderTest:
        settings = make_settings(database_url, fxa.url, **overrides)
        made.append(TokenserverUnderTest(settings, {NODE: 100} if node_capacities is None else node_capacities))
        return made[-1]

    yield make
    for ts in made:
        ts.close()


@pytest.fixture
def ts(make_tokenserver):
    return make_tokenserver()


@pytest.fixture
def logged_reason(caplog):
    """logged_reason() -> the `reason` of the last request-log line, the one
    line a refused token request logs (the tokenserver adds none of its own)."""
    caplog.set_level(logging.INFO, logger="syncstorage")

    def last() -> str | None:
        request_lines = [r for r in caplog.records if r.name == "syncstorage.request"]
        reason = request_lines[-1].fields.get("reason")
        if reason is not None:
            own = [r for r in caplog.records if r.name == "syncstorage.tokenserver.service"]
            assert all(reason not in r.getMessage() for r in own), [r.getMessage() for r in own]
        return reason

    return last
