"""A password reset through our page (issue 15, accounts spec §7.2): the
operator's reset code, a new password typed into /reset_password in the
Firefox that was signed in. The reset makes a new kB, so a new Sync key (a
new kid): Firefox takes it and uploads its data again, which a new profile
signing in with the new password then receives. The reset form is typed
with the address in capitals: the password must still be salted with the
address as created (errno 120 and a retry, as at sign-in)."""

from __future__ import annotations

import pytest

from firefox import actions, pages
from support.server import run_cli

pytestmark = pytest.mark.e2e  # real server and browser processes

EMAIL = "ada@example.org"
OLD_PASSWORD = "forgotten password"
NEW_PASSWORD = "remembered password"
FOLDER = "Uploaded again after a reset"
BOOKMARK_URL = "https://bookmarks.example/reset/"
SYNC_KEY_ID = """
    const { getFxAccountsSingleton } = ChromeUtils.importESModule("resource://gre/modules/FxAccounts.sys.mjs");
    return (await getFxAccountsSingleton().keys.getKeyForScope("https://identity.mozilla.com/apps/oldsync")).kid;
"""


def test_a_reset_in_the_page_gives_firefox_a_new_key_and_its_data_syncs_again(accounts_server, make_accounts_firefox):
    server = accounts_server
    first = make_accounts_firefox("first", server)
    pages.sign_in_through_page(first, server.public_url, EMAIL, OLD_PASSWORD, mode="/signup")
    actions.add_bookmarks(first, FOLDER, 20, BOOKMARK_URL)
    actions.sync_ok(first)
    bookmarks = actions.bookmarks(first, FOLDER)
    old_key_id = first.run(SYNC_KEY_ID)

    reset = run_cli("account", "reset-password", EMAIL, env=server.env)
    assert reset.returncode == 0, reset.stderr
    # typed in another letter case: the page must still salt with the address
    # as created, or the next sign-in's password would not match
    pages.sign_in_through_page(first, server.public_url, EMAIL.upper(), NEW_PASSWORD, mode="/reset_password",
                               reset_code=reset.stdout.strip())
    new_key_id = first.run(SYNC_KEY_ID)
    assert new_key_id != old_key_id
    assert int(new_key_id.split("-")[0]) > int(old_key_id.split("-")[0])  # keys_changed_at moved on
    actions.sync_ok(first)

    second = make_accounts_firefox("second", server)
    pages.sign_in_through_page(second, server.public_url, EMAIL, NEW_PASSWORD)
    assert second.run(SYNC_KEY_ID) == new_key_id
    actions.sync_ok(second)
    assert actions.bookmarks(second, FOLDER) == bookmarks
