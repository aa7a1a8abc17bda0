"""Fixtures of the real-Firefox tests: the server under test as a real
process whose tokenserver trusts the stand-in accounts server (tests/support/
mock_fxa.py), and headless Firefox profiles pointed at both; or the server
with its own accounts on (`accounts_server`) and profiles that find it by
autoconfig alone (`make_accounts_firefox`).

Without Firefox or marionette-driver these tests skip with the reason;
SYNCSTORAGE_TEST_REQUIRE_FIREFOX=1 (CI sets it) makes that a failure."""

from __future__ import annotations

import secrets

import pytest

from firefox import browser
from firefox.server_side import TOKEN_PATH
from support.databases import unavailable
from support.server import RunningServer, free_port, start_server


@pytest.fixture(autouse=True)
def _firefox_available():
    problem = browser.missing()
    if problem:
        unavailable(f"the Firefox tests {problem}", required_by="SYNCSTORAGE_TEST_REQUIRE_FIREFOX")


@pytest.fixture
def start_sync_server(tmp_path, fxa):
    """start_sync_server(database_url, **settings): storage + tokenserver in
    one process, trusting `fxa`; stopped (and its log printed) at the end."""
    started: list[RunningServer] = []

    def start(database_url: str | None, name: str = "server", **settings) -> RunningServer:
        settings.setdefault("master_secret", secrets.token_hex(32))
        server = start_server(tmp_path / name, database_url=database_url, fxa_oauth_server_url=fxa.url, **settings)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
        print(server.log()[-20000:])  # shown by pytest when the test failed


def _firefoxes(tmp_path, prefs_for):
    """The body of a make_*firefox fixture: make(name, server) starts a
    headless Firefox on a new profile `name` with prefs_for(server,
    marionette_port). Every Firefox is killed at the end; the weave logs are
    printed (pytest shows them when the test failed)."""
    made: list[browser.Firefox] = []

    def make(name: str, server: RunningServer) -> browser.Firefox:
        firefox = browser.Firefox(tmp_path / name, prefs_for(server, free_port()))
        made.append(firefox)
        firefox.start()
        return firefox

    yield make
    for firefox in made:
        try:
            firefox.stop()
        except Exception as exc:  # keep stopping the others
            print(f"stopping Firefox on {firefox.profile.name} failed: {exc!r}")
    for firefox in made:
        print(firefox.weave_logs())


@pytest.fixture
def make_firefox(tmp_path, fxa):
    """make_firefox(name, server) -> a started headless Firefox on a new
    profile `name`, its accounts pointed at the stand-in `fxa`."""
    yield from _firefoxes(tmp_path, lambda server, port: browser.profile_prefs(
        fxa.url, server.public_url + TOKEN_PATH, port))
    print("accounts server requests:", fxa.requests)


@pytest.fixture
def accounts_server(tmp_path, sqlite_url):
    """The server as a self-hoster runs it with its own accounts, open
    sign-up. SQLite only: tests/accounts runs the protocol on every database."""
    server = start_server(tmp_path / "accounts-server", database_url=sqlite_url, master_secret=secrets.token_hex(32),
                          accounts_enabled="true", accounts_signup="open")
    yield server
    server.stop()
    print(server.log()[-20000:])  # shown by pytest when the test failed


@pytest.fixture
def make_accounts_firefox(tmp_path):
    """make_accounts_firefox(name, server) -> a started headless Firefox on a
    new profile whose only accounts setting is the autoconfig URI."""
    yield from _firefoxes(tmp_path, lambda server, port: browser.autoconfig_prefs(server.public_url, port))
