"""Firefox signs up and syncs with this server's own accounts (issue 15):
no Mozilla account anywhere. A fresh profile whose only accounts setting is
`identity.fxaccounts.autoconfig.uri` opens our sign-up page from its menu,
a person's keystrokes (Marionette) create the account, Firefox syncs
bookmarks; a second fresh profile signs in through our sign-in page with the
same password and receives them, which needs the same kB, so the same Sync
key, derived in each page from the password alone.

Prints (pytest -s) the accounts endpoints Firefox called and how long sign-up
to the first sync took."""

from __future__ import annotations

import re
import time
from collections import Counter

import pytest

from firefox import actions, pages

pytestmark = pytest.mark.e2e  # real server and browser processes

EMAIL = "Ada.Lovelace@example.org"  # mixed case: the page salts with it as typed
PASSWORD = "correct horse battery staple ✓"
FOLDER = "Synced through our own accounts"
BOOKMARKS = 50
BOOKMARK_URL = "https://bookmarks.example/accounts/"
# A request log line: "<METHOD> <path, or the route's name> <status>"
REQUEST = re.compile(r"\b(GET|POST|HEAD|PUT|DELETE) (/(?:v1|profile|\.well-known)/\S*|tokenserver) (\d{3})\b")


def accounts_calls(log: str) -> Counter:
    """(method, path, status) of every accounts, profile and tokenserver request."""
    return Counter(match.groups() for match in REQUEST.finditer(log))


def test_sign_up_in_our_page_then_a_second_profile_signs_in_and_gets_the_bookmarks(accounts_server, make_accounts_firefox):
    server = accounts_server
    first = make_accounts_firefox("first", server)
    url = pages.open_sign_in_page(first, server.public_url)
    assert url.startswith(f"{server.public_url}/?context=oauth_webchannel_v1&"), url
    assert first.run('return Services.prefs.getStringPref("identity.sync.tokenserver.uri");') == \
        f"{server.public_url}/1.0/sync/1.5"  # set by autoconfig from the discovery document

    submitted = time.monotonic()
    pages.submit_account_form(first, EMAIL, PASSWORD, mode="/signup")
    pages.wait_connected(first)
    connected = time.monotonic()
    pages.wait_first_sync(first)
    synced = time.monotonic()
    print(f"sign-up: submit -> Firefox connected {connected - submitted:.1f}s, "
          f"-> first sync done {synced - submitted:.1f}s")
    assert actions.account_state(first) == "signed_in"

    actions.add_bookmarks(first, FOLDER, BOOKMARKS, BOOKMARK_URL)
    actions.sync_ok(first)
    uploaded = actions.bookmarks(first, FOLDER)
    assert len(uploaded) == BOOKMARKS

    second = make_accounts_firefox("second", server)
    pages.open_sign_in_page(second, server.public_url)
    pages.submit_account_form(second, EMAIL, PASSWORD)
    pages.wait_connected(second)
    actions.sync_ok(second)
    assert actions.bookmarks(second, FOLDER) == uploaded

    calls = accounts_calls(server.log())
    print("accounts endpoints called (method, path, status): count")
    for call, count in sorted(calls.items()):
        print(f"  {' '.join(call)}: {count}")
    called = {(method, path) for method, path, status in calls if status.startswith("2")}
    # the page's side of sign-up and sign-in (accounts spec §3.3)...
    assert {("POST", "/v1/account/create"), ("POST", "/v1/account/login"), ("GET", "/v1/account/keys"),
            ("POST", "/v1/account/scoped-key-data"), ("POST", "/v1/oauth/authorization")} <= called
    # ...and Firefox's own: discovery, the code exchange, its device, the tokenserver
    assert {("GET", "/.well-known/fxa-client-configuration"), ("POST", "/v1/oauth/token"),
            ("POST", "/v1/account/device"), ("GET", "tokenserver")} <= called
    assert not [call for call in calls if call[2].startswith("5")]
    assert PASSWORD not in server.log()
