"""The admin page's sections and actions (admin/users.py, nodes.py,
activity.py, operations.py), through the real app on a real database."""

from __future__ import annotations

from html import unescape
import logging
import re

import pytest
import sqlalchemy as sa

from admin.conftest import ADMIN, TOKEN_HASH, sign_in, signed_in
from support.web import PUBLIC_URL
from syncstorage.admin import users as users_page
from syncstorage.admin.schema import activity_hours, storage_days

OTHER_NODE = "https://node2.example.org"


def _rows(page: str, caption: str) -> list[list[str]]:
    """The cells of the table with this caption, tags removed."""
    found = re.search(rf"<caption>{re.escape(caption)}</caption>.*?<tbody>(.*?)</tbody>", page, re.S)
    assert found, page
    return [[unescape(re.sub(r"<[^>]+>", "", cell)) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", found.group(1), re.S)]


def test_users_list_search_and_keyset_paging(admin_client, tokenserver, monkeypatch):
    for uid in range(1, 8):
        tokenserver.add_user(uid, f"{uid:x}{'ab' if uid % 2 else 'cd'}00@api.accounts.firefox.com")
    admin_client.as_user(3).upload("bookmarks", {"id": "b1", "payload": "x"})
    monkeypatch.setattr(users_page, "PAGE_SIZE", 3)
    signed_in(admin_client)
    first = admin_client.http.get(ADMIN + "/users").text
    assert "7 current users" in first
    rows = _rows(first, "Users, newest first")
    assert [r[0] for r in rows] == ["7", "6", "5"]
    assert rows[0][1] == "7ab00@api.accounts.firefox.com" and rows[0][2] == PUBLIC_URL
    assert 'href="/admin/users?before=5" rel="next"' in first
    second = admin_client.http.get(ADMIN + "/users?before=5").text
    assert [r[0] for r in _rows(second, "Users, newest first")] == ["4", "3", "2"]
    assert [r[4] != "-" for r in _rows(second, "Users, newest first")] == [False, True, False]  # last sync
    last = admin_client.http.get(ADMIN + "/users?before=2").text
    assert [r[0] for r in _rows(last, "Users, newest first")] == ["1"] and 'rel="next"' not in last

    matches = "Matching records, by account"
    by_uid = admin_client.http.get(ADMIN + "/users?q=4").text
    assert [r[0] for r in _rows(by_uid, matches)] == ["4"]
    by_prefix = admin_client.http.get(ADMIN + "/users", params={"q": "3AB"}).text  # case does not matter
    assert [r[0] for r in _rows(by_prefix, matches)] == ["3"]
    tokenserver.add_user(8, "c0ffee1@api.accounts.firefox.com")
    tokenserver.add_user(9, "c0ffee0@api.accounts.firefox.com", replaced=True)
    both = admin_client.http.get(ADMIN + "/users", params={"q": "c0ff"}).text
    assert [(r[0], r[1]) for r in _rows(both, matches)] == [  # in account order, replaced records too
        ("9", "c0ffee0@api.accounts.firefox.com (replaced)"), ("8", "c0ffee1@api.accounts.firefox.com")]
    odd = admin_client.http.get(ADMIN + "/users", params={"q": "", "before": "3"}).text
    assert [r[0] for r in _rows(odd, "Users, newest first")] == ["2", "1"]
    assert "no user matches" in admin_client.http.get(ADMIN + "/users?q=zz").text
    assert "no user matches" in admin_client.http.get(ADMIN + "/users?q=" + "9" * 40).text


def test_user_detail_and_delete(admin_client, tokenserver, caplog):
    tokenserver.add_user(5, "5ab@api.accounts.firefox.com")
    user = admin_client.as_user(5)
    user.upload("bookmarks", {"id": "b1", "payload": "x" * 100}, {"id": "b2", "payload": "y" * 50})
    user.upload("history", {"id": "h1", "payload": "z" * 10})
    csrf = signed_in(admin_client)
    page = admin_client.http.get(ADMIN + "/users/5").text
    data = _rows(page, "Stored data")
    assert [r[:3] for r in data] == [["bookmarks", "2", "150 B"], ["history", "1", "10 B"], ["total", "3", "160 B"]]
    assert _rows(page, "Tokenserver records")[0][:3] == ["5", "5ab@api.accounts.firefox.com", PUBLIC_URL]

    # without the confirmation box nothing happens
    assert admin_client.http.post(ADMIN + "/users/5/delete", data={"csrf": csrf}).status_code == 400
    assert user.get("/info/collections").json().keys() == {"bookmarks", "history"}
    with caplog.at_level(logging.INFO, "syncstorage.admin"):
        response = admin_client.http.post(ADMIN + "/users/5/delete", data={"csrf": csrf, "confirm": "yes"})
    assert response.status_code == 200 and "The user&#x27;s stored data was deleted." in response.text
    assert "nothing stored" in response.text
    assert user.get("/info/collections").json() == {}
    lines = [r.getMessage() for r in caplog.records if r.name == "syncstorage.admin"]
    assert len(lines) == 1 and re.fullmatch(r"admin action delete-user-data on uid 5 by session [0-9a-f]{12}", lines[0])
    assert tokenserver.current_uids() == [5]  # the record stays, as with `user delete`


def test_unknown_user_is_404(admin_client):
    signed_in(admin_client)
    assert admin_client.http.get(ADMIN + "/users/999").status_code == 404
    assert admin_client.http.get(ADMIN + "/users/" + "9" * 30).status_code == 404


def test_nodes_drain_and_down(admin_client, tokenserver, caplog):
    tokenserver.add_node(OTHER_NODE, capacity=10, current_load=4)
    tokenserver.add_user(1, "1@api.accounts.firefox.com", OTHER_NODE)
    csrf = signed_in(admin_client)
    rows = {r[0]: r for r in _rows(admin_client.http.get(ADMIN + "/nodes").text, "Storage nodes")}
    assert rows[OTHER_NODE][1:5] == ["10", "4", "6", "in service"]
    with caplog.at_level(logging.INFO, "syncstorage.admin"):
        page = admin_client.http.post(ADMIN + "/nodes/drain", data={"csrf": csrf, "node": OTHER_NODE}).text
    assert "The node takes no new users" in page
    node = tokenserver.node(OTHER_NODE)
    assert (node.available, node.backoff, node.downed) == (0, 1, 0)
    assert tokenserver.current_uids() == []  # the user moves at the next sync
    assert {r[0]: r for r in _rows(page, "Storage nodes")}[OTHER_NODE][4] == "draining"
    assert any(r.getMessage().startswith(f"admin action node-drain on node {OTHER_NODE} (1 users to move) by session ")
               for r in caplog.records)

    admin_client.http.post(ADMIN + "/nodes/undrain", data={"csrf": csrf, "node": OTHER_NODE})
    node = tokenserver.node(OTHER_NODE)
    assert (node.available, node.backoff) == (6, 0)
    admin_client.http.post(ADMIN + "/nodes/down", data={"csrf": csrf, "node": OTHER_NODE})
    assert tokenserver.node(OTHER_NODE).downed == 1
    page = admin_client.http.post(ADMIN + "/nodes/up", data={"csrf": csrf, "node": OTHER_NODE}).text
    assert tokenserver.node(OTHER_NODE).downed == 0 and "The node is marked up." in page

    assert admin_client.http.post(ADMIN + "/nodes/drain", data={"csrf": csrf, "node": "https://nowhere.example"}).status_code == 404
    assert admin_client.http.post(ADMIN + "/nodes/drain", data={"csrf": csrf, "node": "ftp://x"}).status_code == 400
    assert admin_client.http.post(ADMIN + "/nodes/explode", data={"csrf": csrf, "node": OTHER_NODE}).status_code == 404


def test_activity_counts_requests_and_syncs(admin_client, clock):
    admin_client.upload("bookmarks", {"id": "b1", "payload": "x" * 1000})
    for _ in range(3):
        assert admin_client.get("/info/collections").status_code == 200
    signed_in(admin_client)
    page = admin_client.http.get(ADMIN + "/activity").text
    assert page.count("<svg ") == 3 and page.count('class="bar"') >= 2
    assert re.search(r"Syncs per hour: highest 3, total 3,", page)
    engine = sa.create_engine(admin_client.settings.effective_database_url)
    with engine.connect() as conn:
        hours = conn.execute(sa.select(activity_hours)).all()
        days = conn.execute(sa.select(storage_days)).all()
    engine.dispose()
    assert len(hours) == 1 and hours[0].syncs == 3 and hours[0].requests >= 4 + 3  # sign-in pages too
    assert len(days) == 1  # once a day, from the first flush after the start
    assert _rows(page, "Stored data, last 7 days measured")[0][1:] == [str(days[0].users), str(days[0].items), f"{days[0].bytes:,} B"]


def test_operations_purge_checks_and_masked_settings(make_client, sqlite_url, clock, caplog):
    password_url = "https://user:hunter2pass@oauth.example.org"  # never contacted here
    client = make_client(sqlite_url, admin_token=TOKEN_HASH, fxa_oauth_server_url=password_url,
                         fxa_metrics_hash_secret="metrics-hash-secret-value")
    client.upload("history", {"id": "old", "payload": "x", "ttl": 10})
    clock.advance(200_000)  # past the ttl and the purge's one-day grace
    csrf = signed_in(client)
    page = client.http.get(ADMIN + "/operations").text
    assert "none recorded yet" in page
    assert "PASS</strong>" in page and "database reachable" in page and "schema current" in page
    for secret in ("http-tests-master-secret", "hunter2pass", "metrics-hash-secret-value", TOKEN_HASH, TOKEN_HASH[20:40]):
        assert secret not in page
    settings = dict((r[0], r[1]) for r in _rows(page, "Settings"))
    assert settings["master_secret"] == '["<hidden, 24 characters>"]'
    assert settings["admin_token"].startswith('"<hidden, ')
    assert settings["fxa_oauth_server_url"] == '"https://user:***@oauth.example.org"'

    with caplog.at_level(logging.INFO, "syncstorage.admin"):
        page = client.http.post(ADMIN + "/operations/purge", data={"csrf": csrf}).text
    assert "The purge finished" in page
    run = _rows(page, "Last purges")[0]
    assert run[1] == "admin" and run[3:] == ["1", "0", "0"]
    assert any(r.getMessage().startswith("admin action purge on expired items 1, stale batches 0") for r in caplog.records)


def test_values_are_escaped(admin_client, tokenserver):
    tokenserver.add_user(1, "<script>@x")
    signed_in(admin_client)
    page = admin_client.http.get(ADMIN + "/users", params={"q": '"><script>'}).text
    assert "<script>" not in page and "&quot;&gt;&lt;script&gt;" in page
    page = admin_client.http.get(ADMIN + "/users").text
    assert "<script>" not in page and "&lt;script&gt;@x" in page


def test_database_away_is_503_not_500(make_client):
    client = make_client("postgresql://postgres@127.0.0.1:1/none", migrate=False, admin_token=TOKEN_HASH)
    assert sign_in(client).status_code == 503  # the session is kept in the database
    for path in ("/users", "/users/1", "/nodes", "/activity", "/operations"):
        client.http.cookies.set("syncstorage_admin", "a" * 43, path="/admin")
        response = client.http.get(ADMIN + path)
        assert response.status_code == 503, path
        assert response.headers["retry-after"] == "10"
        assert "admin: database unavailable" in response.text
