"""`syncstorage account ...` against a running server's database, and the
sign-up policies (accounts_signup)."""

from __future__ import annotations

import httpx
import pytest

from accounts.conftest import new_email, start_accounts_server
from support.client import SyncClient
from support.onepw import SYNC_SCOPE, ApiError, FirefoxFlow, OnepwClient
from support.server import invoke_cli

pytestmark = pytest.mark.e2e


@pytest.fixture
def invite_server(sqlite_url, tmp_path):
    running = start_accounts_server(tmp_path, sqlite_url, accounts_signup="invite")
    yield running
    running.stop()
    print(running.log())


def cli(server, *args: str) -> str:
    result = invoke_cli("account", *args, env=server.env)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_invitations(invite_server):
    email = new_email()
    with OnepwClient(invite_server.base_url) as client:
        with pytest.raises(ApiError) as without:
            client.create(email, "a password")
        assert without.value.errno == 125
        code = cli(invite_server, "invite", "--email", email).strip()
        with pytest.raises(ApiError) as other_address:
            client.create(new_email(), "a password", invite=code)
        assert other_address.value.errno == 125
        client.create(email, "a password", invite=code)
        with pytest.raises(ApiError) as reused:
            client.create(new_email(), "a password", invite=code)
        assert reused.value.errno == 125
        anyone = cli(invite_server, "invite").strip()
        client.create(new_email(), "a password", invite=anyone)
    assert email in cli(invite_server, "list")


def test_closed_sign_up_and_accounts_added_by_the_operator(sqlite_url, tmp_path):
    server = start_accounts_server(tmp_path, sqlite_url, accounts_signup="closed")
    try:
        email = new_email()
        with OnepwClient(server.base_url) as client:
            with pytest.raises(ApiError) as closed:
                client.create(email, "a password", invite="anything")
            assert closed.value.errno == 125
            assert "created account" in cli(server, "add", email, "--password", "operator's choice")
            signed_in = client.login(email, "operator's choice")
            kb = client.kb(signed_in)
            # it syncs: the page's OAuth step, the tokenserver, storage
            flow = FirefoxFlow()
            tokens = client.exchange(signed_in, flow, client.authorize(signed_in, kb, flow))
            kid = flow.decrypt(tokens["keys_jwe"])[SYNC_SCOPE]["kid"]
            access = client.access_token(signed_in.session_token)["access_token"]
            answer = httpx.get(f"{server.base_url}/1.0/sync/1.5",
                               headers={"Authorization": f"Bearer {access}", "X-KeyID": kid}).json()
            with SyncClient.from_tokenserver(answer) as sync:
                assert sync.put("storage/tabs/x", json={"payload": "p"}).status_code == 200

            assert "deleted account" in cli(server, "delete", email, "--yes")
            assert client.request("GET", f"/v1/account/status?uid={signed_in.uid}") == {"exists": False}
            with SyncClient.from_tokenserver(answer) as sync:  # its token still works; its data is gone
                assert sync.get("info/collections").json() == {}
            refused = httpx.get(f"{server.base_url}/1.0/sync/1.5",
                                headers={"Authorization": f"Bearer {access}", "X-KeyID": kid})
            assert refused.status_code == 401
        assert invoke_cli("account", "add", email, "--password", "short", env=server.env).returncode != 0
    finally:
        server.stop()


def test_key_rotation_keeps_issued_tokens_valid(sqlite_url, tmp_path):
    server = start_accounts_server(tmp_path, sqlite_url)
    email = new_email()
    try:
        with OnepwClient(server.base_url) as client:
            signed_in = client.create(email, "a password")
            before = client.access_token(signed_in.session_token)["access_token"]
            old_kids = [k["kid"] for k in client.request("GET", "/v1/jwks")["keys"]]
        assert "new signing key" in cli(server, "rotate-key")
    finally:
        server.stop()
    server = start_accounts_server(tmp_path, sqlite_url)
    try:
        with OnepwClient(server.base_url) as client:
            kids = [k["kid"] for k in client.request("GET", "/v1/jwks")["keys"]]
            assert len(kids) == 2 and kids[1] == old_kids[0]
            assert client.request("POST", "/v1/verify", {"token": before})["user"] == signed_in.uid
            signed_in = client.login(email, "a password")
            after = client.access_token(signed_in.session_token)["access_token"]
            import jwt

            assert jwt.get_unverified_header(after)["kid"] == kids[0]
    finally:
        server.stop()
