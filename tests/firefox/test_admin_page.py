"""The admin page in a real Firefox (issue 16): sign in with the token,
delete a user's data, drain a node, run a purge; every page fits a desktop
and a phone screen under the page's Content-Security-Policy (screenshots:
firefox/screens.py, in docs/operations.md "The admin page")."""

from __future__ import annotations

import math
import time

import pytest
import sqlalchemy as sa

from firefox.screens import take_screenshots
from firefox.server_side import collection_counts, storage_client
from syncstorage.admin.schema import activity_hours, storage_days
from syncstorage.tokenhash import hash_token
from syncstorage.tokenserver import admin
from syncstorage.tokenserver.db import make_engine

TOKEN = "a long admin token for the browser test"
OTHER_NODE = "https://node2.example.org"


def _seed_history(engine: sa.Engine) -> int:
    """A week of hourly counts and a month of daily storage totals before
    today, as a server that ran them would have stored; the syncs seeded."""
    this_hour, today = int(time.time()) // 3600, int(time.time()) // 86400
    hours = [
        {"hour": hour, "syncs": round(40 + 30 * math.sin(hour * math.pi / 12)), "requests": 0}
        for hour in range(this_hour - 7 * 24 + 1, this_hour)
    ]
    for row in hours:
        row["requests"] = row["syncs"] * 6
    days = [
        {"day": day, "users": 40 + n, "items": 90_000 + 2_500 * n, "bytes": 300_000_000 + 9_000_000 * n}
        for n, day in enumerate(range(today - 29, today))
    ]
    with engine.begin() as conn:
        conn.execute(sa.insert(activity_hours), hours)
        conn.execute(sa.insert(storage_days), days)
    return sum(row["syncs"] for row in hours)


def _text(client, selector: str) -> str:
    return client.find_element("css selector", selector).text


@pytest.mark.parametrize("database_url", [None])  # SQLite: the page is about the HTTP side
def test_admin_page_in_firefox(start_sync_server, make_firefox, fxa, tmp_path, database_url):
    server = start_sync_server(database_url, admin_token=hash_token(TOKEN, log2_n=4))
    engine = make_engine(f"sqlite:///{server.data_dir / 'syncstorage.db'}")
    try:
        admin.add_node(engine, OTHER_NODE, 500, current_load=120)
        seeded_syncs = _seed_history(engine)
    finally:
        engine.dispose()
    accounts = [fxa.create_account(f"user{n}@example.org") for n in range(3)]
    uids = []
    for n, account in enumerate(accounts):
        with storage_client(server, fxa, account) as device:
            records = [{"id": f"b{i}", "payload": "x" * (200 * (n + 1))} for i in range(5 * (n + 1))]
            assert device.post("storage/bookmarks", json=records).status_code == 200
            assert device.get("info/collections").status_code == 200  # a sync's first request
            uids.append(device.uid)

    client = make_firefox("admin", server).client
    client.set_context(client.CONTEXT_CONTENT)
    base = server.public_url + "/admin"

    client.navigate(base)
    assert client.get_url() == base + "/sign-in"
    take_screenshots(client, tmp_path, "admin-sign-in")
    client.find_element("css selector", "#token").send_keys(TOKEN)
    client.find_element("css selector", "form.sign-in button").click()
    assert client.get_url() == base + "/users"
    # the stylesheet applied under the CSP
    assert client.execute_script("return getComputedStyle(document.querySelector('main')).maxWidth") == "1024px"
    rows = client.execute_script("return [...document.querySelectorAll('tbody tr')].map(r => r.cells[0].textContent)")
    assert rows == [str(uid) for uid in sorted(uids, reverse=True)]
    assert "3 current users" in _text(client, "main")
    take_screenshots(client, tmp_path, "admin-users")

    # delete the first user's data
    victim = uids[0]
    client.find_element("link text", str(victim)).click()
    assert client.get_url() == f"{base}/users/{victim}"
    assert "bookmarks" in _text(client, "main") and "5" in _text(client, "main")
    take_screenshots(client, tmp_path, "admin-user")
    client.find_element("css selector", "#confirm").click()
    client.find_element("css selector", "form button.danger").click()
    assert "The user's stored data was deleted." in _text(client, ".notice")
    assert "nothing stored" in _text(client, "main")
    assert collection_counts(server, fxa, accounts[0]) == {}
    assert collection_counts(server, fxa, accounts[1]) == {"bookmarks": 10}

    # drain the other node
    client.navigate(base + "/nodes")
    drain = f"//tr[td[1]='{OTHER_NODE}']//form[contains(@action, '/nodes/drain')]/button"
    client.find_element("xpath", drain).click()
    assert client.get_url().startswith(base + "/nodes")
    assert "The node takes no new users" in _text(client, ".notice")
    state = client.find_element("xpath", f"//tr[td[1]='{OTHER_NODE}']/td[5]").text
    assert state == "draining"
    take_screenshots(client, tmp_path, "admin-nodes")

    client.navigate(base + "/activity")
    charts = client.execute_script("return [...document.querySelectorAll('svg')].map(s => s.getBoundingClientRect().height)")
    assert len(charts) == 3 and all(height > 20 for height in charts)
    syncs = client.execute_script("return document.querySelector('#syncs-chart title').textContent")
    assert f"highest 70, total {seeded_syncs + 3:,}" in syncs  # 3: the syncs above, this hour
    bars = client.execute_script("return [...document.querySelectorAll('svg')].map(s => s.querySelectorAll('.bar').length)")
    assert bars[0] == bars[1] >= 7 * 24 - 1 and bars[2] in (29, 30)  # today: measured at start, maybe before the uploads
    take_screenshots(client, tmp_path, "admin-activity")

    client.navigate(base + "/operations")
    client.find_element("css selector", "form[action$='/operations/purge'] button").click()
    assert "The purge finished" in _text(client, ".notice")
    main = _text(client, "main")
    assert "PASS" in main and "database reachable" in main and "admin" in main
    assert TOKEN not in main and "$scrypt$" not in main and server.master_secret not in main
    take_screenshots(client, tmp_path, "admin-operations")
