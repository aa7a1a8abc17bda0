"""The account settings page (issue 15), driven in a real Firefox that
opened it from its own "Manage account" entry: the device list and
disconnecting a device, a password change that keeps the synced data readable (kB unchanged: a new profile
signing in with the new password gets the old bookmarks), and deleting the
account, which signs Firefox out."""

from __future__ import annotations

import httpx
import pytest

from firefox import actions, pages

pytestmark = pytest.mark.e2e  # real server and browser processes

EMAIL = "grace@example.org"
OLD_PASSWORD = "first password 1"
NEW_PASSWORD = "second password 2"
FOLDER = "Kept across a password change"
BOOKMARK_URL = "https://bookmarks.example/settings/"


def test_password_change_keeps_the_data_and_deleting_signs_firefox_out(accounts_server, make_accounts_firefox):
    server = accounts_server
    first = make_accounts_firefox("first", server)
    pages.sign_in_through_page(first, server.public_url, EMAIL, OLD_PASSWORD, mode="/signup")
    actions.add_bookmarks(first, FOLDER, 20, BOOKMARK_URL)
    actions.sync_ok(first)
    uploaded = actions.bookmarks(first, FOLDER)

    pages.open_settings_page(first, server.public_url)
    assert [name for name in pages.device_names(first) if name.endswith("(this Firefox)")]
    pages.change_password(first, OLD_PASSWORD, NEW_PASSWORD)
    # Firefox took the new session over the WebChannel and keeps syncing.
    assert actions.account_state(first) == "signed_in"
    actions.sync_ok(first)

    refused = httpx.post(f"{server.base_url}/v1/account/login", json={"email": EMAIL, "authPW": "00" * 32}, timeout=30)
    assert refused.json()["errno"] == 103

    second = make_accounts_firefox("second", server)
    pages.sign_in_through_page(second, server.public_url, EMAIL, NEW_PASSWORD)
    actions.sync_ok(second)
    assert actions.bookmarks(second, FOLDER) == uploaded  # same kB, same Sync key

    pages.open_settings_page(second, server.public_url)
    assert len(pages.device_names(second)) == 2
    pages.disconnect_devices(second)  # the first profile's
    assert [name.endswith("(this Firefox)") for name in pages.device_names(second)] == [True]
    pages.delete_account(second, NEW_PASSWORD)
    pages.wait_signed_out(second)
    gone = httpx.post(f"{server.base_url}/v1/account/status", json={"email": EMAIL}, timeout=30)
    assert gone.json() == {"exists": False}
