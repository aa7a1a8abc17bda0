"""The landing page at the public URL's root (web/landing.py, issue 16)."""

from __future__ import annotations

import re

import pytest

from support.web import PUBLIC_URL, assert_error
from syncstorage import __version__
from syncstorage.web.landing import SECURITY_HEADERS


def _page(client, base: str = PUBLIC_URL):
    response = client.http.get(base + "/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value
    assert response.headers["cache-control"] == "no-store"
    return response.text


def test_says_what_to_put_in_firefox(client):
    text = _page(client)
    assert f"syncstorage {__version__}" in text
    assert f'<code id="tokenserver-uri">{PUBLIC_URL}/1.0/sync/1.5</code>' in text
    assert "identity.sync.tokenserver.uri" in text
    for platform in ("Firefox desktop", "Firefox for Android", "Firefox for iOS"):
        assert f"<h3>{platform}</h3>" in text
    # iOS takes the root, without the tokenserver path
    assert f"<code>{PUBLIC_URL}</code> as the Sync token server" in text
    assert text.count('<strong class="ok">OK</strong>') == 2  # database, nonce store


def test_no_script_or_style_from_elsewhere(client):
    """The CSP allows only this origin's files; the page must need nothing else."""
    text = _page(client)
    assert "<style" not in text and " style=" not in text
    assert re.findall(r"<script[^>]*>", text) == ['<script src="/site/copy.js">']
    assert re.findall(r'<link [^>]*href="([^"]+)"', text) == ["/site/landing.css"]
    assert not re.search(r'(src|href)="(https?:)?//', text)
    css = client.http.get(PUBLIC_URL + "/site/landing.css")
    assert (css.status_code, css.headers["content-type"]) == (200, "text/css; charset=utf-8")
    js = client.http.get(PUBLIC_URL + "/site/copy.js")
    assert (js.status_code, js.headers["content-type"]) == (200, "text/javascript; charset=utf-8")
    assert "navigator.clipboard.writeText" in js.text
    assert_error(client.http.get(PUBLIC_URL + "/site/nothing.js"), 404)
    assert_error(client.http.get(PUBLIC_URL + "/site/..%2fapp.py"), 404)


def test_honours_the_path_prefix(make_client, sqlite_url):
    client = make_client(sqlite_url, public_url="http://localhost:8000/sync")
    for base in ("http://localhost:8000/sync", "http://localhost:8000"):  # proxy keeps or strips it
        text = _page(client, base)
        assert '<code id="tokenserver-uri">http://localhost:8000/sync/1.0/sync/1.5</code>' in text
        assert '<link rel="stylesheet" href="/sync/site/landing.css">' in text
        assert '<script src="/sync/site/copy.js">' in text
    assert client.http.get("http://localhost:8000/sync/site/copy.js").status_code == 200


def test_shows_no_user_data(client):
    """The page is the same before and after a user stores data."""
    before = _page(client)
    client.upload("bookmarks", {"id": "secret-id", "payload": "secret-payload"})
    client.as_user(4242).upload("passwords", {"id": "other", "payload": "x"})
    assert _page(client) == before


def test_unavailable_database_is_shown_not_raised(make_client):
    client = make_client("postgresql://postgres@127.0.0.1:1/none", migrate=False)  # nothing listens on port 1
    text = _page(client)
    match = re.search(r'Database: <strong class="bad">unavailable</strong> <span class="detail">\(([^<]*)\)</span>', text)
    assert match is not None, text
    assert match.group(1).startswith("database unavailable: ")
    assert 'Nonce store (replay protection): <strong class="ok">OK</strong>' in text


def test_unreachable_nonce_store_is_shown(make_client, sqlite_url):
    client = make_client(sqlite_url, nonce_store_url="redis://127.0.0.1:1/0")
    text = _page(client)
    assert 'Database: <strong class="ok">OK</strong>' in text
    assert re.search(
        r'Nonce store \(replay protection\): <strong class="bad">unavailable</strong> '
        r'<span class="detail">\(nonce store unavailable: nonce store unreachable: [^<]+\)</span>',
        text,
    ), text


def test_storage_only_node_names_no_tokenserver(make_client, sqlite_url):
    client = make_client(sqlite_url, tokenserver_enabled=False)
    text = _page(client)
    assert "tokenserver-uri" not in text and "/1.0/sync/1.5<" not in text
    assert "This process serves storage only" in text


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_only_get(client, method):
    assert_error(client.http.request(method, PUBLIC_URL + "/"), 405)


def test_with_built_in_accounts(make_client, sqlite_url):
    """The one setting Firefox then needs is the accounts server (autoconfig);
    Firefox's own requests to the root (with its query) get the sign-in page."""
    client = make_client(sqlite_url, accounts_enabled=True, accounts_signup="invite")
    text = _page(client)
    assert f'<code id="accounts-url">{PUBLIC_URL}</code>' in text
    assert "identity.fxaccounts.autoconfig.uri" in text
    assert "needs an invitation code" in text
    assert "tokenserver-uri" not in text  # autoconfig gives Firefox the tokenserver
    sign_in = client.http.get(PUBLIC_URL + "/?context=oauth_webchannel_v1&service=sync&action=email")
    assert sign_in.status_code == 200
    assert "connect-src 'self'" in sign_in.headers["content-security-policy"]  # the accounts page's own
    assert sign_in.text != text and "<form" in sign_in.text


def test_without_accounts_a_query_changes_nothing(client):
    assert client.http.get(PUBLIC_URL + "/?context=oauth_webchannel_v1&service=sync").text == _page(client)
