"""The tokenserver with the built-in accounts on: it checks their tokens in
process (the configured remote accounts server is never asked) and keeps
accepting the other accounts server's tokens (Mozilla's, here a stand-in)."""

from __future__ import annotations

import secrets

import httpx
import pytest

from accounts.conftest import new_email, start_accounts_server
from support.onepw import OnepwClient

pytestmark = pytest.mark.e2e


def token_request(server, bearer: str, key_id: str) -> httpx.Response:
    return httpx.get(f"{server.base_url}/1.0/sync/1.5",
                     headers={"Authorization": f"Bearer {bearer}", "X-KeyID": key_id}, timeout=30)


def test_both_accounts_servers_tokens_are_accepted(sqlite_url, tmp_path, fxa):
    server = start_accounts_server(tmp_path, sqlite_url, fxa_oauth_server_url=fxa.url)
    try:
        mozilla_uid = secrets.token_hex(16)
        mozilla = token_request(server, fxa.access_token(mozilla_uid, generation=5), "1234-qqo")
        assert mozilla.status_code == 200 and mozilla.json()["hashed_fxa_uid"]
        with OnepwClient(server.base_url) as client:
            signed_in = client.create(new_email(), "a password")
            ours = client.access_token(signed_in.session_token)["access_token"]
            profile_only = client.access_token(signed_in.session_token, scope="profile")["access_token"]
        asked_before = (fxa.jwks_requests, len(fxa.verify_requests))
        answer = token_request(server, ours, "1700000000000-qqo")
        assert answer.status_code == 200, answer.text
        assert token_request(server, profile_only, "1700000000000-qqo").status_code == 401  # no sync scope
        # the other accounts server was not asked about our tokens
        assert (fxa.jwks_requests, len(fxa.verify_requests)) == asked_before
    finally:
        server.stop()


def test_accounts_off_serves_no_accounts_endpoints(sqlite_url, tmp_path, fxa):
    from support.server import start_server

    server = start_server(tmp_path / "data", database_url=sqlite_url, master_secret=secrets.token_hex(32),
                          fxa_oauth_server_url=fxa.url)
    try:
        for path in ("/.well-known/fxa-client-configuration", "/v1/jwks", "/profile/v1/profile"):
            assert httpx.get(server.base_url + path).status_code == 404
        assert token_request(server, fxa.access_token(secrets.token_hex(16)), "1234-qqo").status_code == 200
        assert not (tmp_path / "data" / "accounts_signing_keys.json").exists()
    finally:
        server.stop()


def test_accounts_at_the_origin_root_and_sync_below_a_prefix(sqlite_url, tmp_path):
    """docs/accounts.md: the accounts server at the root of the origin while
    storage and the tokenserver live below public_url's path."""
    from support.server import free_port

    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    server = start_accounts_server(tmp_path, sqlite_url, port=port, public_url=f"{origin}/sync",
                                   accounts_public_url=origin)
    try:
        config = httpx.get(f"{origin}/.well-known/fxa-client-configuration").json()
        assert config["auth_server_base_url"] == origin
        assert config["sync_tokenserver_base_url"] == f"{origin}/sync"
        with OnepwClient(origin) as client:
            signed_in = client.create(new_email(), "a password")
            access = client.access_token(signed_in.session_token)["access_token"]
        answer = httpx.get(f"{origin}/sync/1.0/sync/1.5",
                           headers={"Authorization": f"Bearer {access}", "X-KeyID": "1700000000000-qqo"})
        assert answer.status_code == 200 and answer.json()["api_endpoint"].startswith(f"{origin}/sync/1.5/")
        assert "has a path" not in server.log()
    finally:
        server.stop()


def test_serve_warns_when_the_accounts_url_has_a_path(sqlite_url, tmp_path):
    from support.server import free_port

    port = free_port()
    server = start_accounts_server(tmp_path, sqlite_url, port=port, public_url=f"http://127.0.0.1:{port}/sync")
    try:
        assert "has a path: Firefox looks for the account pages at the root" in server.log()
    finally:
        server.stop()
