"""The accounts protocol end to end, over HTTP against a real server
process, on every database: what the sign-in page and then Firefox do
(spec accounts.md §3.3), with the onepw client of tests/support/onepw.py."""

from __future__ import annotations

import pytest

from accounts.conftest import new_email
from support.client import SyncClient
from support.onepw import SYNC_SCOPE, ApiError, FirefoxFlow, OnepwClient, sync_key
from syncstorage.auth.hawk import hawk_header

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse battery staple"


def sync_credentials(server, access_token: str, key_id: str) -> dict:
    """Firefox's tokenserver request (auth-and-tokens §6)."""
    import httpx

    response = httpx.get(
        f"{server.base_url}/1.0/sync/1.5",
        headers={"Authorization": f"Bearer {access_token}", "X-KeyID": key_id},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_sign_up_sign_in_keys_oauth_tokenserver_and_storage(accounts_server, client: OnepwClient):
    email = new_email()
    created = client.create(email, PASSWORD)
    kb = client.kb(created)

    # sign in again: the same kB, so the same sync key
    signed_in = client.login(email, PASSWORD)
    assert signed_in.uid == created.uid
    assert client.kb(signed_in) == kb

    # the page's OAuth step, then Firefox's code exchange (PKCE) and keys_jwe
    flow = FirefoxFlow()
    code = client.authorize(signed_in, kb, flow)
    tokens = client.exchange(signed_in, flow, code)
    assert tokens["scope"] == f"https://identity.mozilla.com/apps/oldsync profile"
    assert tokens["expires_in"] >= 120 and "refresh_token" in tokens
    scoped = flow.decrypt(tokens["keys_jwe"])[SYNC_SCOPE]
    client.request("POST", "/v1/oauth/destroy", {"client_id": "5882386c6d801776", "token": tokens["refresh_token"]})

    # the access token Firefox gets with its session, at the tokenserver
    access = client.access_token(signed_in.session_token)
    credentials = sync_credentials(accounts_server, access["access_token"], scoped["kid"])
    with SyncClient.from_tokenserver(credentials) as sync:
        assert sync.put("storage/bookmarks/a", json={"payload": "x"}).status_code == 200
        assert sync.get("info/collections").json().keys() == {"bookmarks"}

    # no password-derived value, token, code or key material in the log
    from support.onepw import Credentials

    secrets_sent = [
        Credentials.v1(email, PASSWORD).auth_pw.hex(), created.session_token, signed_in.session_token,
        signed_in.key_fetch_token, code, tokens["access_token"], tokens["refresh_token"], tokens["keys_jwe"],
        access["access_token"], scoped["k"],
    ]
    log = accounts_server.log()
    assert "/v1/oauth/token" in log  # the requests were logged...
    assert [s for s in secrets_sent if s and s in log] == []  # ...without their secrets


def test_wrong_password_unknown_account_and_email_case(client: OnepwClient):
    email = new_email()
    client.create(email, PASSWORD)
    with pytest.raises(ApiError) as wrong:
        client.login(email, "not the password")
    assert (wrong.value.status, wrong.value.errno) == (400, 103)
    with pytest.raises(ApiError) as unknown:
        client.login(new_email(), PASSWORD)
    assert (unknown.value.status, unknown.value.errno) == (400, 102)
    with pytest.raises(ApiError) as case:
        client.login(email.upper(), PASSWORD)
    assert (case.value.errno, case.value.body["email"]) == (120, email)
    with pytest.raises(ApiError) as exists:
        client.create(email.upper(), PASSWORD)
    assert exists.value.errno == 101


def test_password_change_keeps_kb_and_ends_other_sessions(accounts_server, client: OnepwClient):
    email = new_email()
    first = client.create(email, PASSWORD)
    kb = client.kb(first)
    other = client.login(email, PASSWORD)
    old_access = client.access_token(other.session_token)["access_token"]
    generation_before = client.request("POST", "/v1/verify", {"token": old_access})["generation"]
    keys_changed_at = client.request("POST", "/v1/account/scoped-key-data", {"client_id": "5882386c6d801776",
                                     "scope": SYNC_SCOPE}, token=other.session_token)[SYNC_SCOPE]["keyRotationTimestamp"]
    kid = sync_key(kb, keys_changed_at)["kid"]
    before = sync_credentials(accounts_server, old_access, kid)

    changed = client.change_password(first, "a new password")
    assert client.kb(changed) == kb
    assert client.kb(client.login(email, "a new password")) == kb
    with pytest.raises(ApiError) as old_password:
        client.login(email, PASSWORD)
    assert old_password.value.errno == 103
    # the other Firefox's session is gone: 401 errno 110 -> "Reconnect" (§6.3)
    for gone in (other.session_token, first.session_token):
        with pytest.raises(ApiError) as revoked:
            client.request("GET", "/v1/session/status", token=gone)
        assert (revoked.value.status, revoked.value.errno) == (401, 110)
    status = client.request("GET", "/v1/session/status", token=changed.session_token)
    assert status == {"state": "verified", "uid": first.uid}
    new_access = client.access_token(changed.session_token)["access_token"]
    generation_after = client.request("POST", "/v1/verify", {"token": new_access})["generation"]
    assert generation_after > generation_before
    # same keys, so the same storage uid: the data stays (issue 15); the
    # old generation's tokens are refused once the new one was seen
    assert sync_credentials(accounts_server, new_access, kid)["uid"] == before["uid"]
    import httpx

    stale = httpx.get(f"{accounts_server.base_url}/1.0/sync/1.5",
                      headers={"Authorization": f"Bearer {old_access}", "X-KeyID": kid})
    assert (stale.status_code, stale.json()["status"]) == (401, "invalid-generation")


def test_reset_makes_a_new_kb(accounts_server, client: OnepwClient):
    from support.server import invoke_cli

    email = new_email()
    first = client.create(email, PASSWORD)
    kb = client.kb(first)
    keys_before = client.request("POST", "/v1/account/scoped-key-data",
                                 {"client_id": "5882386c6d801776", "scope": SYNC_SCOPE}, token=first.session_token)
    old_kid = sync_key(kb, keys_before[SYNC_SCOPE]["keyRotationTimestamp"])["kid"]
    old_access = client.access_token(first.session_token)["access_token"]
    before = sync_credentials(accounts_server, old_access, old_kid)
    result = invoke_cli("account", "reset-password", email, env=accounts_server.env)
    assert result.returncode == 0, result.stderr
    reset = client.reset(email, result.stdout.strip(), "another password")
    new_kb = client.kb(reset)
    assert new_kb != kb
    keys_after = client.request("POST", "/v1/account/scoped-key-data",
                                {"client_id": "5882386c6d801776", "scope": SYNC_SCOPE}, token=reset.session_token)
    assert keys_after[SYNC_SCOPE]["keyRotationTimestamp"] > keys_before[SYNC_SCOPE]["keyRotationTimestamp"]
    # the tokenserver sees new keys: a new storage uid, so Firefox syncs afresh,
    # and then refuses a Firefox still on the old keys (auth-and-tokens §9.3)
    new_kid = sync_key(new_kb, keys_after[SYNC_SCOPE]["keyRotationTimestamp"])["kid"]
    after = sync_credentials(accounts_server, client.access_token(reset.session_token)["access_token"], new_kid)
    assert after["uid"] != before["uid"]
    import httpx

    stale = httpx.get(f"{accounts_server.base_url}/1.0/sync/1.5",
                      headers={"Authorization": f"Bearer {old_access}", "X-KeyID": old_kid})
    assert (stale.status_code, stale.json()["status"]) == (401, "invalid-client-state")
    with pytest.raises(ApiError) as gone:
        client.request("GET", "/v1/session/status", token=first.session_token)
    assert gone.value.errno == 110
    with pytest.raises(ApiError) as used:  # a reset code works once
        client.reset(email, result.stdout.strip(), "a third password")
    assert used.value.errno == 110


def test_a_reset_salted_with_another_address_is_refused_before_the_code_is_spent(accounts_server, client: OnepwClient):
    """The page stretches the new password with the address typed in the
    reset form; sign-in salts with the address as created, so the server
    answers 120 with that address (the page retries with it, as for login)."""
    from support.server import invoke_cli

    email = "Mixed.Case-" + new_email()
    client.create(email, PASSWORD)
    code = invoke_cli("account", "reset-password", email.lower(), env=accounts_server.env).stdout.strip()
    with pytest.raises(ApiError) as case:
        client.reset(email.lower(), code, "another password")
    assert (case.value.errno, case.value.body["email"]) == (120, email)
    with pytest.raises(ApiError) as other:
        client.reset(new_email(), code, "another password")
    assert other.value.errno == 107
    reset = client.reset(email, code, "another password")  # the code still works
    client.kb(reset)
    client.kb(client.login(email, "another password"))


def test_devices_commands_profile_and_sign_out(accounts_server, client: OnepwClient):
    email = new_email()
    desktop = client.create(email, PASSWORD)
    laptop = client.login(email, PASSWORD)
    commands = {"https://identity.mozilla.com/cmd/open-uri": "{\"kid\":\"x\"}"}
    mine = client.request("POST", "/v1/account/device", {"name": "desk", "type": "desktop", "availableCommands": commands},
                          token=desktop.session_token)
    assert len(mine["id"]) == 32
    with pytest.raises(ApiError) as second:
        client.request("POST", "/v1/account/device", {"name": "again", "type": "desktop"}, token=desktop.session_token)
    assert (second.value.errno, second.value.body["deviceId"]) == (124, mine["id"])
    theirs = client.request("POST", "/v1/account/device", {"name": "lap", "type": "desktop"}, token=laptop.session_token)
    renamed = client.request("POST", "/v1/account/device", {"id": mine["id"], "name": "desk 2"}, token=desktop.session_token)
    assert renamed["name"] == "desk 2"

    listed = client.request("GET", "/v1/account/devices?filterIdleDevicesTimestamp=0", token=laptop.session_token)
    assert {(d["id"], d["isCurrentDevice"]) for d in listed} == {(mine["id"], False), (theirs["id"], True)}

    client.request("POST", "/v1/account/devices/invoke_command",
                   {"command": "https://identity.mozilla.com/cmd/open-uri", "target": mine["id"], "payload": {"encrypted": "abc"}},
                   token=laptop.session_token)
    queue = client.request("GET", "/v1/account/device/commands?index=1&limit=10", token=desktop.session_token)
    assert queue["last"] is True and queue["messages"][0]["data"] == {
        "command": "https://identity.mozilla.com/cmd/open-uri", "payload": {"encrypted": "abc"}, "sender": theirs["id"]}
    with pytest.raises(ApiError) as unavailable:
        client.request("POST", "/v1/account/devices/invoke_command",
                       {"command": "https://identity.mozilla.com/cmd/open-uri", "target": theirs["id"], "payload": {}},
                       token=desktop.session_token)
    assert unavailable.value.errno == 157
    assert client.request("POST", "/v1/account/devices/notify", {"to": "all", "payload": {"version": 1}},
                          token=desktop.session_token) == {}
    attached = client.request("GET", "/v1/account/attached_clients", token=desktop.session_token)
    assert sum(1 for c in attached if c["isCurrentSession"]) == 1

    token = client.access_token(desktop.session_token, scope="profile", ttl=None)
    assert token["expires_in"] >= 120
    import httpx
    profile = httpx.get(f"{accounts_server.base_url}/profile/v1/profile",
                        headers={"Authorization": f"Bearer {token['access_token']}"})
    assert profile.json()["uid"] == desktop.uid and profile.json()["email"] == email
    again = httpx.get(f"{accounts_server.base_url}/profile/v1/profile",
                      headers={"Authorization": f"Bearer {token['access_token']}", "If-None-Match": profile.headers["ETag"]})
    assert again.status_code == 304
    client.request("POST", "/v1/oauth/destroy", {"client_id": "5882386c6d801776", "token": token["access_token"]})
    assert httpx.get(f"{accounts_server.base_url}/profile/v1/profile",
                     headers={"Authorization": f"Bearer {token['access_token']}"}).status_code == 401

    # disconnecting the laptop ends its session; sign-out ends the desktop's
    client.request("POST", "/v1/account/device/destroy", {"id": theirs["id"]}, token=desktop.session_token)
    client.request("POST", "/v1/session/destroy", {}, token=desktop.session_token)
    for gone in (laptop, desktop):
        with pytest.raises(ApiError) as error:
            client.request("GET", "/v1/account/devices", token=gone.session_token)
        assert error.value.errno == 110
    assert client.request("GET", f"/v1/account/status?uid={desktop.uid}") == {"exists": True}


def test_account_destroy(client: OnepwClient):
    email = new_email()
    signed_in = client.create(email, PASSWORD)
    access = client.access_token(signed_in.session_token)["access_token"]
    with pytest.raises(ApiError) as wrong:
        client.request("POST", "/v1/account/destroy", {"email": email, "authPW": "00" * 32})
    assert wrong.value.errno == 103
    from support.onepw import Credentials

    client.request("POST", "/v1/account/destroy", {"email": email, "authPW": Credentials.v1(email, PASSWORD).auth_pw.hex()})
    assert client.request("GET", f"/v1/account/status?uid={signed_in.uid}") == {"exists": False}
    with pytest.raises(ApiError) as verify:
        client.request("POST", "/v1/verify", {"token": access})
    assert verify.value.errno == 108


def test_a_mobile_app_uses_its_refresh_token_for_devices(accounts_server, client: OnepwClient):
    """Spec §2.6: mobile keeps the refresh token and sends it as Bearer on
    the device calls, and trades it for access tokens."""
    import httpx

    email = new_email()
    signed_in = client.create(email, PASSWORD)
    kb = client.kb(signed_in)
    flow = FirefoxFlow()
    code = client.authorize(signed_in, kb, flow)
    tokens = client.request("POST", "/v1/oauth/token", {  # mobile: no Hawk on the code exchange
        "grant_type": "authorization_code", "code": code, "client_id": "5882386c6d801776", "code_verifier": flow.verifier,
    })
    refresh = tokens["refresh_token"]
    bearer = {"Authorization": f"Bearer {refresh}"}

    def call(method: str, path: str, body=None) -> httpx.Response:
        return httpx.request(method, accounts_server.base_url + path, json=body, headers=bearer)

    phone = call("POST", "/v1/account/device", {"name": "phone", "type": "mobile"})
    assert phone.status_code == 200, phone.text
    listed = call("GET", "/v1/account/devices").json()
    assert [(d["name"], d["isCurrentDevice"]) for d in listed] == [("phone", True)]
    attached = client.request("GET", "/v1/account/attached_clients", token=signed_in.session_token)
    assert [c["deviceId"] for c in attached if c["refreshTokenId"]] == [phone.json()["id"]]
    fresh = client.request("POST", "/v1/oauth/token", {"grant_type": "refresh_token", "client_id": "5882386c6d801776",
                                                       "refresh_token": refresh, "scope": SYNC_SCOPE})
    assert fresh["scope"] == SYNC_SCOPE and "refresh_token" not in fresh
    # the session token is no Bearer credential, and a refresh token signs nothing else
    assert httpx.get(accounts_server.base_url + "/v1/account/devices",
                     headers={"Authorization": f"Bearer {signed_in.session_token}"}).json()["errno"] == 110
    assert httpx.get(accounts_server.base_url + "/v1/session/status", headers=bearer).json()["errno"] == 109

    client.request("POST", "/v1/oauth/destroy", {"client_id": "5882386c6d801776", "token": refresh})
    gone = call("GET", "/v1/account/devices")
    assert (gone.status_code, gone.json()["errno"]) == (401, 110)
    assert client.request("GET", "/v1/account/devices", token=signed_in.session_token) == []
