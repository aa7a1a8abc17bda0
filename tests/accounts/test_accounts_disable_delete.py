"""A disabled account (`syncstorage account disable|enable`), and an account
deleted from its settings page taking its synced data with it
(syncstorage/account_removal.py through app.py's hook): over HTTP against a
real server process, on every database."""

from __future__ import annotations

import httpx
import pytest

from accounts.conftest import new_email
from support.client import SyncClient
from support.onepw import FIREFOX_CLIENT_ID, SYNC_SCOPE, ApiError, Credentials, FirefoxFlow, OnepwClient
from support.server import invoke_cli
from syncstorage.tokenserver import admin
from syncstorage.tokenserver.db import make_engine

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse battery staple"


def _token_request(server, access_token: str, key_id: str) -> httpx.Response:
    """Firefox's tokenserver request (auth-and-tokens §6)."""
    return httpx.get(f"{server.base_url}/1.0/sync/1.5",
                     headers={"Authorization": f"Bearer {access_token}", "X-KeyID": key_id}, timeout=30)


def _cli(server, *args: str) -> str:
    result = invoke_cli("account", *args, env=server.env)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _firefox_signed_in(client: OnepwClient, email: str):
    """An account signed up, as Firefox holds it: session, refresh token,
    access token and the sync key's id."""
    signed_in = client.create(email, PASSWORD)
    kb = client.kb(signed_in)
    flow = FirefoxFlow()
    tokens = client.exchange(signed_in, flow, client.authorize(signed_in, kb, flow))
    kid = flow.decrypt(tokens["keys_jwe"])[SYNC_SCOPE]["kid"]
    access = client.access_token(signed_in.session_token)["access_token"]
    return signed_in, tokens["refresh_token"], access, kid


def test_a_disabled_account_neither_signs_in_nor_syncs_until_enabled(accounts_server, client: OnepwClient):
    email = new_email()
    signed_in, refresh, access, kid = _firefox_signed_in(client, email)
    assert _token_request(accounts_server, access, kid).status_code == 200

    assert _cli(accounts_server, "disable", email).strip() == f"disabled account {email}"
    with pytest.raises(ApiError) as login:
        client.login(email, PASSWORD)
    assert (login.value.status, login.value.errno) == (400, 121)
    with pytest.raises(ApiError) as wrong_password:  # nothing said to whoever lacks the password
        client.login(email, "not the password")
    assert wrong_password.value.errno == 103
    with pytest.raises(ApiError) as session:
        client.request("GET", "/v1/session/status", token=signed_in.session_token)
    assert (session.value.status, session.value.errno) == (401, 110)
    with pytest.raises(ApiError) as refreshed:
        client.request("POST", "/v1/oauth/token",
                       {"grant_type": "refresh_token", "client_id": FIREFOX_CLIENT_ID, "refresh_token": refresh})
    assert refreshed.value.errno == 182
    refused = _token_request(accounts_server, access, kid)  # checked in process, without a round trip
    assert refused.status_code == 401, refused.text
    with pytest.raises(ApiError) as verify:
        client.request("POST", "/v1/verify", {"token": access})
    assert verify.value.errno == 108
    row = next(line for line in _cli(accounts_server, "list").splitlines() if email in line)
    assert row.split("\t")[-1].endswith(" UTC")  # the "disabled" column: when

    assert _cli(accounts_server, "enable", email).strip() == f"enabled account {email}"
    again = client.login(email, PASSWORD)
    fresh = client.access_token(again.session_token)["access_token"]
    assert _token_request(accounts_server, fresh, kid).status_code == 200  # the same sync key
    assert _token_request(accounts_server, access, kid).status_code == 200  # not revoked, only refused meanwhile


def test_deleting_the_account_from_its_settings_deletes_its_synced_data(accounts_server, client: OnepwClient,
                                                                       database_url):
    email = new_email()
    signed_in, _refresh, access, kid = _firefox_signed_in(client, email)
    answer = _token_request(accounts_server, access, kid)
    assert answer.status_code == 200, answer.text
    credentials = answer.json()
    with SyncClient.from_tokenserver(credentials) as sync:
        assert sync.put("storage/bookmarks/a", json={"payload": "encrypted"}).status_code == 200
        assert sync.get("info/collections").json().keys() == {"bookmarks"}
    engine = make_engine(database_url)
    try:
        assert [r.uid for r in admin.user_records(engine, uid=credentials["uid"])] == [credentials["uid"]]

        # what the settings page sends (spec §7.4)
        client.request("POST", "/v1/account/destroy",
                       {"email": email, "authPW": Credentials.v1(email, PASSWORD).auth_pw.hex()})

        assert client.request("GET", f"/v1/account/status?uid={signed_in.uid}") == {"exists": False}
        with SyncClient.from_tokenserver(credentials) as sync:  # its storage token is still good: the data is gone
            assert sync.get("info/collections").json() == {}
            assert sync.get("storage/bookmarks/a").status_code == 404
        assert admin.user_records(engine, uid=credentials["uid"]) == []
    finally:
        engine.dispose()
    assert f"account {signed_in.uid} deleted itself" in accounts_server.log()
