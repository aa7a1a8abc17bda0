"""The admin page's Accounts section in a real Firefox (issue 16, with
accounts_enabled): sign in, find an account, make an invitation link,
disable the account (a confirmation step first), delete it with its synced
data; screenshots at desktop and phone widths (firefox/screens.py, in
docs/operations.md "The admin page")."""

from __future__ import annotations

import secrets
import time

import httpx
import pytest

from firefox.screens import take_screenshots
from support.client import SyncClient
from support.onepw import SYNC_SCOPE, Credentials, FirefoxFlow, OnepwClient
from support.server import start_server
from syncstorage.accounts import admin
from syncstorage.tokenhash import hash_token

pytestmark = pytest.mark.e2e  # real server and browser processes

TOKEN = "a long admin token for the accounts page"
PASSWORD = "the victim's password"
VICTIM = "victor@example.org"
OTHERS = ["alice@example.org", "bob@example.net", "carol@example.com"]


def _synced(server, email: str, invite: str) -> SyncClient:
    """The account signed up over HTTP as the sign-up page and Firefox do it,
    with a record stored; a storage client that holds its token."""
    with OnepwClient(server.base_url) as client:
        signed_in = client.create(email, PASSWORD, invite=invite)
        flow = FirefoxFlow()
        tokens = client.exchange(signed_in, flow, client.authorize(signed_in, client.kb(signed_in), flow))
        kid = flow.decrypt(tokens["keys_jwe"])[SYNC_SCOPE]["kid"]
        access = client.access_token(signed_in.session_token)["access_token"]
    answer = httpx.get(f"{server.base_url}/1.0/sync/1.5",
                       headers={"Authorization": f"Bearer {access}", "X-KeyID": kid}, timeout=30)
    assert answer.status_code == 200, answer.text
    sync = SyncClient.from_tokenserver(answer.json())
    assert sync.put("storage/bookmarks/a", json={"payload": "encrypted"}).status_code == 200
    return sync


def _text(client, selector: str) -> str:
    return client.find_element("css selector", selector).text


def _login_errno(server) -> int:
    """The errno of a sign-in with the right password (0: signed in)."""
    body = {"email": VICTIM, "authPW": Credentials.v1(VICTIM, PASSWORD).auth_pw.hex()}
    return httpx.post(f"{server.base_url}/v1/account/login", json=body, timeout=30).json().get("errno", 0)


def test_accounts_page_in_firefox(tmp_path, sqlite_url, make_accounts_firefox):
    server = start_server(tmp_path / "server", database_url=sqlite_url, master_secret=secrets.token_hex(32),
                          accounts_enabled="true", accounts_signup="invite", admin_token=hash_token(TOKEN, log2_n=4))
    try:
        _run(server, sqlite_url, tmp_path, make_accounts_firefox)
    finally:
        server.stop()
        print(server.log()[-20000:])


def _run(server, database_url: str, tmp_path, make_accounts_firefox) -> None:
    engine = admin.make_engine(database_url)
    try:
        for email in OTHERS:
            admin.add_account(engine, email, "a password of theirs", 1_764_000_000_000)
        admin.set_disabled(engine, admin.find(engine, OTHERS[2]), True, 1_764_500_000_000)
        invite = admin.invite(engine, VICTIM, int(time.time() * 1000), 600)
    finally:
        engine.dispose()
    sync = _synced(server, VICTIM, invite)

    client = make_accounts_firefox("admin", server).client
    client.set_context(client.CONTEXT_CONTENT)
    base = server.public_url + "/admin"
    client.navigate(base)
    client.find_element("css selector", "#token").send_keys(TOKEN)
    client.find_element("css selector", "form.sign-in button").click()
    client.find_element("link text", "Accounts").click()
    assert client.get_url() == base + "/accounts"
    emails = client.execute_script("return [...document.querySelectorAll('tbody tr')].map(r => r.cells[0].textContent)")
    assert emails == sorted([*OTHERS, VICTIM])  # address order
    assert "4 accounts" in _text(client, "main")
    states = client.execute_script("return [...document.querySelectorAll('tbody tr')].map(r => r.cells[3].textContent)")
    assert [s.split()[0] for s in states] == ["in", "in", "disabled", "in"]
    take_screenshots(client, tmp_path, "admin-accounts")

    client.find_element("css selector", "#email").send_keys("dora@example.org")
    client.find_element("xpath", "//button[text()='Make an invitation link']").click()
    link = _text(client, "code.secret")
    assert link.startswith(server.public_url + "/signup?invite=") and link.endswith("&email=dora%40example.org")
    client.navigate(base + "/accounts")

    client.find_element("link text", VICTIM).click()
    assert "in use" in _text(client, "main") and "Make a reset code" in _text(client, "main")
    take_screenshots(client, tmp_path, "admin-account")
    client.find_element("xpath", "//button[text()='Disable…']").click()
    assert _text(client, "h1") == f"Disable {VICTIM}?"  # the confirmation step
    assert _login_errno(server) == 0  # not yet
    client.find_element("css selector", "form button.danger").click()
    assert "The account is disabled" in _text(client, ".notice")
    assert _login_errno(server) == 121

    client.find_element("xpath", "//button[text()='Delete…']").click()
    assert _text(client, "h1") == f"Delete {VICTIM}?"
    take_screenshots(client, tmp_path, "admin-account-delete")
    client.find_element("css selector", "form button.danger").click()
    assert client.get_url().startswith(base + "/accounts?")
    assert "The account and its synced data were deleted." in _text(client, ".notice")
    emails = client.execute_script("return [...document.querySelectorAll('tbody tr')].map(r => r.cells[0].textContent)")
    assert emails == sorted(OTHERS)
    with sync:  # its storage token still authenticates: the data is gone
        assert sync.get("info/collections").json() == {}
    assert _login_errno(server) == 102
