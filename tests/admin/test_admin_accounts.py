"""The admin page's Accounts section (admin/accounts.py) with accounts_enabled:
the list, invite, reset password, disable / enable and delete with the
account's synced data, through the real app on a real database."""

from __future__ import annotations

import logging
import re
from html import unescape

import pytest
import sqlalchemy as sa

from admin.conftest import ADMIN, TOKEN_HASH, Tokenserver, csrf_of, sign_in, signed_in
from support.onepw import Credentials, OnepwClient
from support.web import PUBLIC_URL, SyncClient
from syncstorage.accounts import admin as accounts_admin
from syncstorage.accounts import crypto, store
from syncstorage.accounts.schema import accounts, tokens
from syncstorage.admin import accounts as accounts_page

ACCOUNTS = ADMIN + "/accounts"
VERIFIER = crypto.stretch(b"\x01" * 32, crypto.new_seed())  # one scrypt for every row made here
EMAIL_DOMAIN = "api.accounts.firefox.com"  # fxa_email_domain's default


class Accounts:
    """Rows of the server's accounts tables."""

    def __init__(self, client: SyncClient) -> None:
        self.engine = accounts_admin.make_engine(client.settings.effective_tokenserver_database_url)

    def add(self, email: str, created_at: int = 1_700_000_000_000) -> str:
        with self.engine.begin() as conn:
            return store.insert_account(conn, email, VERIFIER, created_at)

    def sign_in(self, uid: str, at: int) -> str:
        with self.engine.begin() as conn:
            return store.issue_token(conn, store.SESSION, uid, at).token_id

    def row(self, uid: str) -> sa.Row | None:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(accounts).where(accounts.c.uid == uid)).first()

    def token_ids(self, uid: str) -> list[str]:
        with self.engine.connect() as conn:
            return list(conn.execute(sa.select(tokens.c.token_id).where(tokens.c.uid == uid)).scalars())


@pytest.fixture
def accounts_client(make_client, database_url) -> SyncClient:
    return make_client(database_url, admin_token=TOKEN_HASH, accounts_enabled=True, accounts_signup="invite")


@pytest.fixture
def rows(accounts_client):
    made = Accounts(accounts_client)
    yield made
    made.engine.dispose()


def _rows(page: str, caption: str) -> list[list[str]]:
    found = re.search(rf"<caption>{re.escape(caption)}</caption>.*?<tbody>(.*?)</tbody>", page, re.S)
    assert found, page
    return [[unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", found.group(1), re.S)]


def _admin_lines(caplog) -> list[str]:
    # the actions' lines only: the sign-in's line is captured too when an
    # earlier test (a CLI one) left the logger at INFO
    messages = [r.getMessage() for r in caplog.records if r.name == "syncstorage.admin"]
    return [m for m in messages if m.startswith("admin action")]


def test_list_paging_search_and_what_a_row_shows(accounts_client, rows, monkeypatch):
    uids = {email: rows.add(email) for email in ["carol@example.org", "Alice@example.org", "bob@example.org",
                                                 "bobby@example.org", "dave@example.net"]}
    rows.sign_in(uids["bob@example.org"], 1_700_000_100_000)
    rows.sign_in(uids["bob@example.org"], 1_700_000_200_000)  # the newest live session counts
    monkeypatch.setattr(accounts_page, "PAGE_SIZE", 2)
    signed_in(accounts_client)
    first = accounts_client.http.get(ACCOUNTS).text
    assert "5 accounts" in first
    listed = _rows(first, "Accounts")
    assert [r[0] for r in listed] == ["Alice@example.org", "bob@example.org"]  # address order, as created
    assert listed[1][1:5] == ["2023-11-14 22:13:20 UTC", "yes", "in use", "2023-11-14 22:16:40 UTC"]
    assert listed[0][4] == "-"  # never signed in
    assert f'href="/admin/users?q={uids["bob@example.org"]}"' in first  # its storage records
    assert f'href="/admin/accounts/{uids["bob@example.org"]}"' in first
    assert 'href="/admin/accounts?after=bob%40example.org" rel="next"' in first
    second = accounts_client.http.get(ACCOUNTS, params={"after": "bob@example.org"}).text
    assert [r[0] for r in _rows(second, "Accounts")] == ["bobby@example.org", "carol@example.org"]
    last = accounts_client.http.get(ACCOUNTS, params={"after": "carol@example.org"}).text
    assert [r[0] for r in _rows(last, "Accounts")] == ["dave@example.net"] and 'rel="next"' not in last

    matches = "Matching accounts"
    bob = accounts_client.http.get(ACCOUNTS, params={"q": "BOB"}).text  # any case
    assert [r[0] for r in _rows(bob, matches)] == ["bob@example.org", "bobby@example.org"]
    assert 'rel="next"' not in bob
    paged = accounts_client.http.get(ACCOUNTS, params={"q": "b", "after": "bob@example.org"}).text
    assert [r[0] for r in _rows(paged, matches)] == ["bobby@example.org"]
    by_uid = accounts_client.http.get(ACCOUNTS, params={"q": uids["dave@example.net"]}).text
    assert [r[0] for r in _rows(by_uid, matches)] == ["dave@example.net"]
    assert "no account matches" in accounts_client.http.get(ACCOUNTS, params={"q": "zz"}).text
    assert "no account matches" in accounts_client.http.get(ACCOUNTS, params={"q": "\U0010ffff"}).text


def test_invitation_link_is_shown_once_and_works_once(accounts_client, rows, clock, caplog):
    csrf = signed_in(accounts_client)
    with caplog.at_level(logging.INFO, "syncstorage.admin"):
        page = accounts_client.http.post(ACCOUNTS + "/invite", data={"csrf": csrf, "email": "new@example.org"}).text
    found = re.search(r'<code class="secret">([^<]+)</code>', page)
    assert found, page
    link = unescape(found.group(1))
    code = re.fullmatch(re.escape(PUBLIC_URL) + r"/signup\?invite=([A-Za-z0-9_-]{22})&email=new%40example.org", link)
    assert code, link
    lines = _admin_lines(caplog)
    assert len(lines) == 1 and re.fullmatch(
        r"admin action account-invite on an invitation for one address by session [0-9a-f]{12}", lines[0])
    assert code.group(1) not in caplog.text
    with rows.engine.begin() as conn:
        assert not store.use_invite(conn, code.group(1), "other@example.org", clock.now_ms())  # for that address only
        assert store.use_invite(conn, code.group(1), "NEW@example.org", clock.now_ms())
        assert not store.use_invite(conn, code.group(1), "new@example.org", clock.now_ms())  # once

    anyone = accounts_client.http.post(ACCOUNTS + "/invite", data={"csrf": csrf}).text
    assert re.search(r"/signup\?invite=[A-Za-z0-9_-]{22}</code>", anyone)
    for bad in ("not-an-address", "a@b c", "x@" + "y" * 300):
        response = accounts_client.http.post(ACCOUNTS + "/invite", data={"csrf": csrf, "email": bad})
        assert 400 <= response.status_code < 500, bad


def test_reset_code_is_shown_once_and_resets(accounts_client, rows, clock, caplog):
    uid = accounts_admin.add_account(rows.engine, "erin@example.org", "the old password", clock.now_ms())
    old_session = rows.sign_in(uid, clock.now_ms())
    csrf = signed_in(accounts_client)
    detail = accounts_client.http.get(f"{ACCOUNTS}/{uid}").text
    assert "Make a reset code" in detail and "erin@example.org" in detail
    with caplog.at_level(logging.INFO, "syncstorage.admin"):
        page = accounts_client.http.post(f"{ACCOUNTS}/{uid}/reset", data={"csrf": csrf}).text
    code = re.search(r'<code class="secret">([0-9a-f]{64})</code>', page).group(1)
    assert f'href="{PUBLIC_URL}/reset_password?email=erin%40example.org"' in page
    assert [line.split(" by ")[0] for line in _admin_lines(caplog)] == [f"admin action account-reset-password on account {uid}"]
    assert code not in caplog.text
    # the page's reset form with that code: a new password, every session ended
    onepw = OnepwClient(PUBLIC_URL, http=accounts_client.http, now=clock.time)
    onepw.reset("erin@example.org", code, "the new password")
    assert old_session not in rows.token_ids(uid)
    assert onepw.login("erin@example.org", "the new password").uid == uid


def test_disable_asks_first_then_ends_everything_and_enable_restores(accounts_client, rows, clock, caplog):
    uid = accounts_admin.add_account(rows.engine, "frank@example.org", "frank's password", clock.now_ms())
    rows.sign_in(uid, clock.now_ms())
    csrf = signed_in(accounts_client)
    confirm = accounts_client.http.post(f"{ACCOUNTS}/{uid}/disable", data={"csrf": csrf})
    assert confirm.status_code == 200 and "Disable frank@example.org?" in confirm.text
    assert '<input type="hidden" name="confirm" value="yes">' in confirm.text
    assert rows.row(uid).disabled_at is None and rows.token_ids(uid)  # nothing happened yet

    with caplog.at_level(logging.INFO, "syncstorage.admin"):
        done = accounts_client.http.post(f"{ACCOUNTS}/{uid}/disable", data={"csrf": csrf, "confirm": "yes"})
    assert "The account is disabled" in done.text and "Enable the account" in done.text
    assert "Make a reset code" not in done.text
    assert rows.row(uid).disabled_at is not None and rows.token_ids(uid) == []
    assert [line.split(" by ")[0] for line in _admin_lines(caplog)] == [f"admin action account-disable on account {uid}"]
    assert "disabled" in _rows(accounts_client.http.get(ACCOUNTS).text, "Accounts")[0][3]
    assert accounts_client.http.post(f"{ACCOUNTS}/{uid}/reset", data={"csrf": csrf}).status_code == 409
    onepw = OnepwClient(PUBLIC_URL, http=accounts_client.http, now=clock.time)
    refused = onepw.raw("POST", "/v1/account/login", {
        "email": "frank@example.org", "authPW": Credentials.v1("frank@example.org", "frank's password").auth_pw.hex()})
    assert (refused.status_code, refused.json()["errno"]) == (400, 121)

    enabled = accounts_client.http.post(f"{ACCOUNTS}/{uid}/enable", data={"csrf": csrf})
    assert "The account is enabled" in enabled.text and rows.row(uid).disabled_at is None
    assert onepw.login("frank@example.org", "frank's password").uid == uid


def test_delete_asks_first_then_deletes_the_account_its_data_and_records(accounts_client, rows, caplog):
    uid = rows.add("gone@example.org")
    kept = rows.add("kept@example.org")
    tokenserver = Tokenserver(accounts_client)
    try:
        tokenserver.add_user(7, f"{uid}@{EMAIL_DOMAIN}", replaced=True)  # an older record: its data goes too
        tokenserver.add_user(8, f"{uid}@{EMAIL_DOMAIN}")
        tokenserver.add_user(9, f"{kept}@{EMAIL_DOMAIN}")
        for storage_uid in (7, 8, 9):
            assert accounts_client.as_user(storage_uid).upload("bookmarks", {"id": "b", "payload": "x"}).status_code == 200
        csrf = signed_in(accounts_client)
        confirm = accounts_client.http.post(f"{ACCOUNTS}/{uid}/delete", data={"csrf": csrf})
        assert confirm.status_code == 200 and "Delete gone@example.org?" in confirm.text
        assert rows.row(uid) is not None

        with caplog.at_level(logging.INFO, "syncstorage.admin"):
            done = accounts_client.http.post(f"{ACCOUNTS}/{uid}/delete", data={"csrf": csrf, "confirm": "yes"})
        assert "The account and its synced data were deleted." in done.text
        assert rows.row(uid) is None and rows.row(kept) is not None
        assert [accounts_client.as_user(n).get("/info/collections").json() != {} for n in (7, 8, 9)] == [False, False, True]
        assert tokenserver.current_uids() == [9]
        assert [line.split(" by ")[0] for line in _admin_lines(caplog)] == [
            f"admin action account-delete on account {uid} (stored data of storage uids: 8, 7)"]  # newest record first
        assert accounts_client.http.get(f"{ACCOUNTS}/{uid}").status_code == 404
        assert accounts_client.http.post(f"{ACCOUNTS}/{uid}/delete", data={"csrf": csrf, "confirm": "yes"}).status_code == 404
    finally:
        tokenserver.engine.dispose()


@pytest.mark.parametrize("action", ["invite", "0" * 32 + "/reset", "0" * 32 + "/disable", "0" * 32 + "/enable",
                                    "0" * 32 + "/delete"])
def test_every_action_needs_the_session_and_its_csrf(make_client, sqlite_url, action):
    client = make_client(sqlite_url, admin_token=TOKEN_HASH, accounts_enabled=True)
    Accounts(client).add("h@example.org")
    url = f"{ACCOUNTS}/{action}"
    assert client.http.post(url, data={"csrf": "x", "confirm": "yes"}).status_code == 403  # no session
    csrf = signed_in(client)
    assert client.http.post(url, data={"confirm": "yes"}).status_code == 403
    assert client.http.post(url, data={"csrf": csrf[:-1] + "x", "confirm": "yes"}).status_code == 403
    assert client.http.post(url, data={"csrf": csrf, "confirm": "yes"}).status_code in (200, 404)  # this one passes


def test_pages_need_a_session(make_client, sqlite_url):
    client = make_client(sqlite_url, admin_token=TOKEN_HASH, accounts_enabled=True)
    uid = Accounts(client).add("i@example.org")
    for path in ("", f"/{uid}"):
        response = client.http.get(ACCOUNTS + path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/admin/sign-in"


def test_without_accounts_there_is_no_accounts_section(admin_client):
    csrf = signed_in(admin_client)
    assert 'href="/admin/accounts"' not in admin_client.http.get(ADMIN + "/users").text
    assert admin_client.http.get(ACCOUNTS).status_code == 404
    assert admin_client.http.post(ACCOUNTS + "/invite", data={"csrf": csrf}).status_code in (404, 405)


def test_the_section_is_in_the_navigation(make_client, sqlite_url):
    client = make_client(sqlite_url, admin_token=TOKEN_HASH, accounts_enabled=True)
    sign_in(client)
    page = client.http.get(ADMIN + "/users").text
    assert re.search(r'href="/admin/users".*href="/admin/accounts".*href="/admin/nodes"', page, re.S)
    assert csrf_of(page)


@pytest.mark.parametrize("query", ["q=" + "a" * 300, "q=%00", "q=a%0ab", "after=" + "b" * 300, "after=%7f"])
def test_bad_listing_parameters(make_client, sqlite_url, query):
    client = make_client(sqlite_url, admin_token=TOKEN_HASH, accounts_enabled=True)
    signed_in(client)
    assert client.http.get(f"{ACCOUNTS}?{query}").status_code == 400


@pytest.mark.parametrize("path", ["/abc", "/" + "0" * 32, "/" + "A" * 32, "/" + "0" * 33, "/%00", "/..%2f"])
def test_odd_account_paths(make_client, sqlite_url, path):
    client = make_client(sqlite_url, admin_token=TOKEN_HASH, accounts_enabled=True)
    csrf = signed_in(client)
    assert client.http.get(ACCOUNTS + path).status_code == 404
    assert 400 <= client.http.post(ACCOUNTS + path + "/disable", data={"csrf": csrf}).status_code < 500


def test_values_are_escaped(make_client, sqlite_url):
    client = make_client(sqlite_url, admin_token=TOKEN_HASH, accounts_enabled=True)
    uid = Accounts(client).add('<script>"x"@example.org')
    signed_in(client)
    for url in (ACCOUNTS, f"{ACCOUNTS}/{uid}", ACCOUNTS + "?q=%3Cscript%3E"):
        page = client.http.get(url).text
        assert "<script>" not in page and "&lt;script&gt;" in page, url
