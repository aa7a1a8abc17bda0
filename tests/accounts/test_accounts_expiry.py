"""Lifetimes (spec accounts.md §8.3), in process with a clock the test
moves: authorization codes, key-fetch tokens, idle sessions, invitations,
and the purge of what expired."""

from __future__ import annotations

import secrets

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from accounts.conftest import new_email
from support.clock import AdvancingClock
from support.onepw import ApiError, FirefoxFlow, OnepwClient
from syncstorage.accounts.schema import oauth_codes, tokens
from syncstorage.app import create_app
from syncstorage.settings import Settings
from syncstorage.storage.sql import migrate

PUBLIC_URL = "http://testserver"


@pytest.fixture
def app_client(sqlite_url, tmp_path):
    migrate.upgrade(sqlite_url)
    clock = AdvancingClock()
    settings = Settings(
        database_url=sqlite_url, data_dir=tmp_path, public_url=PUBLIC_URL, master_secret=[secrets.token_hex(16)],
        accounts_enabled=True, accounts_signup="open", accounts_session_idle_days=90,
        fxa_oauth_server_url="http://127.0.0.1:9",
    )
    with TestClient(create_app(settings, clock=clock), base_url=PUBLIC_URL) as http:
        yield OnepwClient(PUBLIC_URL, http=http, now=clock.time), clock, sa.create_engine(sqlite_url)


def test_an_authorization_code_expires(app_client):
    client, clock, _engine = app_client
    signed_in = client.create(new_email(), "a password")
    kb = client.kb(signed_in)
    flow = FirefoxFlow()
    code = client.authorize(signed_in, kb, flow)
    clock.advance(16 * 60)
    with pytest.raises(ApiError) as expired:
        client.exchange(signed_in, flow, code)
    assert expired.value.errno == 174


def test_a_key_fetch_token_expires(app_client):
    client, clock, _engine = app_client
    signed_in = client.create(new_email(), "a password")
    clock.advance(16 * 60)
    with pytest.raises(ApiError) as expired:
        client.kb(signed_in)
    assert (expired.value.status, expired.value.errno) == (401, 110)


def test_an_idle_session_ends_and_a_used_one_does_not(app_client):
    client, clock, _engine = app_client
    email = new_email()
    used = client.create(email, "a password")
    idle = client.login(email, "a password")
    for _ in range(4):
        clock.advance(30 * 86400)
        client.request("GET", "/v1/session/status", token=used.session_token)
    with pytest.raises(ApiError) as gone:
        client.request("GET", "/v1/session/status", token=idle.session_token)
    assert (gone.value.status, gone.value.errno) == (401, 110)


def test_expired_rows_are_purged_within_the_hour(app_client):
    client, clock, engine = app_client
    signed_in = client.create(new_email(), "a password")  # its key-fetch token is never used
    kb = client.kb(client.login(signed_in.email, "a password"))
    client.authorize(signed_in, kb, FirefoxFlow())  # a code never exchanged

    def count(table) -> int:
        with engine.connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()

    assert count(oauth_codes) == 1 and count(tokens) == 3  # 2 sessions, 1 key-fetch token
    clock.advance(2 * 3600)
    client.request("GET", "/v1/session/status", token=signed_in.session_token)
    assert count(oauth_codes) == 0 and count(tokens) == 2
