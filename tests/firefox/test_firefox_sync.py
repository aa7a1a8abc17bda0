"""A real Firefox syncs with the server (issue 12): a profile signs in and
uploads, a second fresh profile on the same account downloads everything,
edits and deletions flow back. Checked on the server through its storage API
(records per collection) and in the profiles themselves."""

from __future__ import annotations

import pytest

from firefox import actions
from firefox.actions import Steps
from firefox.server_side import collection_counts

pytestmark = pytest.mark.e2e  # real server and browser processes

FOLDER = "Synced folder"
BOOKMARKS = 2000
HISTORY = 2500
BOOKMARK_URL = "https://bookmarks.example/page/"
HISTORY_URL = "https://history.example/visit/"
LOGINS = {f"https://login{i}.example": (f"user{i}", f"secret-{i}") for i in range(200)}
TABS = 5
HOMEPAGE = "https://home.example/"  # browser.startup.homepage is a synced pref
ADDRESS = {"name": "Ada Lovelace", "street-address": "12 Analytical Street", "country": "GB"}


def test_sign_in_upload_download_and_changes_flowing_back(start_sync_server, make_firefox, fxa, database_url):
    step = Steps()
    server = start_sync_server(database_url)
    account = fxa.create_account("round-trip@example.org")

    first = make_firefox("first", server)
    actions.sign_in(first, fxa, account)
    step("first profile started and signed in")
    actions.add_bookmarks(first, FOLDER, BOOKMARKS, BOOKMARK_URL)
    actions.add_history(first, HISTORY, HISTORY_URL)
    actions.add_logins(first, LOGINS)
    # Tabs must point somewhere that answers: the server's own heartbeat.
    tab_urls = [f"{server.base_url}/__lbheartbeat__?tab={i}" for i in range(TABS)]
    actions.open_tabs(first, tab_urls)
    actions.set_pref(first, "browser.startup.homepage", HOMEPAGE)
    actions.add_address(first, ADDRESS)
    step("first profile filled")
    actions.sync_ok(first)
    step("first sync (upload)")

    counts = collection_counts(server, fxa, account)
    print("records on the server after the upload:", counts)
    assert counts["history"] == HISTORY + TABS  # the open tabs are visits too
    assert counts["passwords"] == len(LOGINS)
    assert counts["bookmarks"] >= BOOKMARKS + 1  # the folder and the roots too
    assert counts["clients"] == counts["tabs"] == counts["prefs"] == counts["addresses"] == 1
    assert counts["meta"] == counts["crypto"] == 1
    uploaded_bookmarks = actions.bookmarks(first, FOLDER)
    assert len(uploaded_bookmarks) == BOOKMARKS

    second = make_firefox("second", server)
    actions.sign_in(second, fxa, account)
    actions.sync_ok(second)
    step("second profile started, signed in, first sync (download)")
    assert actions.bookmarks(second, FOLDER) == uploaded_bookmarks
    assert actions.history_urls(second, HISTORY_URL) == HISTORY
    assert actions.logins(second) == LOGINS
    assert sorted(sum(actions.remote_tabs(second).values(), [])) == sorted(tab_urls)
    assert actions.get_pref(second, "browser.startup.homepage") == HOMEPAGE
    assert actions.addresses(second) == [{k: ADDRESS[k] for k in ("name", "street-address")}]
    assert collection_counts(server, fxa, account)["clients"] == 2

    # An edit and deletions on the second profile reach the first.
    edited_url, removed_url = f"{BOOKMARK_URL}0", f"{BOOKMARK_URL}1"
    actions.edit_bookmark(second, edited_url, "edited on the second profile")
    actions.edit_bookmark(second, removed_url, None)
    actions.remove_login(second, "https://login2.example")
    actions.set_pref(second, "browser.startup.homepage", HOMEPAGE + "changed")
    actions.sync_ok(second)
    actions.sync_ok(first)
    step("changes synced back")
    expected = {**uploaded_bookmarks, edited_url: "edited on the second profile"}
    del expected[removed_url]
    assert actions.bookmarks(first, FOLDER) == expected
    assert actions.logins(first) == {o: v for o, v in LOGINS.items() if o != "https://login2.example"}
    assert actions.get_pref(first, "browser.startup.homepage") == HOMEPAGE + "changed"
    after = collection_counts(server, fxa, account)
    print("records on the server after the changes:", after)
    # Deletions are uploaded as tombstones: the same number of records.
    assert after["passwords"] == len(LOGINS)
    assert after["bookmarks"] == counts["bookmarks"]
