"""Fixtures for the tokenserver tests: a mock accounts server on loopback and
a tokenserver app on a real database."""

from __future__ import annotations

import pytest

from support.mock_fxa import MockFxA
from tokenserver_support import NODE, TokenserverUnderTest, make_settings


@pytest.fixture
def fxa():
    mock = MockFxA()
    yield mock
    mock.close()


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
