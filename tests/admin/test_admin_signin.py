"""Signing in to the admin page (admin/signin.py, admin/routes.py): off
without a token, the token's hash, sessions, CSRF and attempt limits."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from admin.conftest import ADMIN, TOKEN, TOKEN_HASH, csrf_of, sign_in, signed_in
from support.clock import AdvancingClock
from support.web import PUBLIC_URL, assert_error
from syncstorage.admin.page import SECURITY_HEADERS
from syncstorage.admin import routes, schema
from syncstorage.admin.signin import MAX_FAILURES, MAX_SESSIONS, SESSION_SECONDS, FailedAttempts, Sessions
from syncstorage.cli import cli
from syncstorage.config import ConfigError, load_settings
from syncstorage.storage.sql import SQLStorage, migrate
from syncstorage.tokenhash import TokenHash

PAGES = ["/users", "/users/1", "/nodes", "/activity", "/operations"]
ACTIONS = ["/users/1/delete", "/nodes/drain", "/operations/purge", "/sign-out"]


def test_off_without_a_token(make_client, sqlite_url):
    client = make_client(sqlite_url)
    for path in ["", "/", "/sign-in", "/admin.css", *PAGES]:
        assert_error(client.http.get(ADMIN + path), 404)
    assert_error(client.http.post(ADMIN + "/sign-in", data={"token": TOKEN}), 404)


def test_pages_need_a_session(admin_client):
    for path in ["", *PAGES]:
        response = admin_client.http.get(ADMIN + path, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"] == "/admin/" + ("users" if path == "" else "sign-in")
    for path in ACTIONS[:-1]:
        response = admin_client.http.post(ADMIN + path, data={"csrf": "x", "confirm": "yes", "node": PUBLIC_URL})
        assert response.status_code == 403, path


def test_sign_in_sets_a_strict_session_cookie(admin_client):
    response = sign_in(admin_client)
    assert response.status_code == 303 and response.headers["location"] == "/admin/users"
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("syncstorage_admin="))
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "path", "samesite", "max-age"} <= attributes and "secure" not in attributes
    assert "Path=/admin" in cookie and "SameSite=strict" in cookie
    page = admin_client.http.get(ADMIN + "/users")
    assert page.status_code == 200 and "<h1>Users</h1>" in page.text
    for name, value in SECURITY_HEADERS.items():
        assert page.headers[name] == value
    assert "<script" not in page.text and " style=" not in page.text


def test_cookie_is_secure_behind_https(make_client, sqlite_url):
    client = make_client(sqlite_url, admin_token=TOKEN_HASH, public_url="https://localhost")
    response = sign_in(client, "https://localhost/admin")
    assert response.status_code == 303
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("syncstorage_admin="))
    assert "Secure" in cookie


def test_wrong_token_is_refused(admin_client, caplog):
    response = sign_in(admin_client, token="not the token at all")
    assert response.status_code == 403
    assert "That is not the admin token." in response.text
    assert admin_client.http.get(ADMIN + "/users", follow_redirects=False).status_code == 303
    assert sign_in(admin_client, token="").status_code == 403


def test_sign_in_needs_its_csrf_token(admin_client):
    form = admin_client.http.get(ADMIN + "/sign-in")
    csrf = csrf_of(form.text)
    for data in ({"token": TOKEN}, {"token": TOKEN, "csrf": csrf + "x"}, {"token": TOKEN, "csrf": ""}):
        assert admin_client.http.post(ADMIN + "/sign-in", data=data, follow_redirects=False).status_code == 403
    admin_client.http.cookies.clear()  # the form's value without its cookie
    response = admin_client.http.post(ADMIN + "/sign-in", data={"token": TOKEN, "csrf": csrf}, follow_redirects=False)
    assert response.status_code == 403


def test_actions_need_the_sessions_csrf_token(admin_client, tokenserver):
    csrf = signed_in(admin_client)
    for data in ({}, {"csrf": csrf[:-1]}, {"csrf": "x" * 43}):
        response = admin_client.http.post(ADMIN + "/nodes/down", data={"node": PUBLIC_URL, **data})
        assert response.status_code == 403, data
    assert not tokenserver.node().downed
    response = admin_client.http.post(ADMIN + "/nodes/down", data={"node": PUBLIC_URL, "csrf": csrf}, follow_redirects=False)
    assert response.status_code == 303
    assert tokenserver.node().downed


def test_failed_attempts_are_limited_per_address(admin_client):
    for _ in range(MAX_FAILURES):
        assert sign_in(admin_client, token="wrong wrong wrong wrong").status_code == 403
    response = sign_in(admin_client)  # even the right token waits
    assert response.status_code == 429
    assert 0 < int(response.headers["retry-after"]) <= 300
    assert admin_client.http.get(ADMIN + "/users", follow_redirects=False).status_code == 303


def test_token_checks_at_once_are_bounded(make_client, sqlite_url, monkeypatch):
    monkeypatch.setattr(routes, "MAX_CONCURRENT_VERIFICATIONS", 0)  # as if two checks ran
    monkeypatch.setattr(routes, "VERIFY_WAIT", 0.01)
    client = make_client(sqlite_url, admin_token=TOKEN_HASH)
    response = sign_in(client)
    assert response.status_code == 503 and response.headers["retry-after"] == "10"
    assert "too many sign-ins at once" in response.text


def test_failed_attempts_window_and_memory_are_bounded():
    now = [0.0]
    attempts = FailedAttempts(clock=lambda: now[0])
    for _ in range(MAX_FAILURES):
        attempts.record("10.0.0.1")
    assert attempts.wait("10.0.0.1") > 0 and attempts.wait("10.0.0.2") == 0
    now[0] = 301.0
    assert attempts.wait("10.0.0.1") == 0
    for n in range(5000):
        attempts.record(f"10.1.{n // 256}.{n % 256}")
    assert len(attempts._by_address) == 4096


def test_sessions_expire_and_are_bounded(sqlite_url):
    migrate.upgrade(sqlite_url)
    clock = AdvancingClock()
    storage = SQLStorage(sqlite_url, clock=clock)
    try:
        sessions = Sessions(storage)
        raw, session = sessions.create()
        assert sessions.find(raw) == session
        assert sessions.find(raw + "x") is None and sessions.find("") is None and sessions.find("y" * 1000) is None
        clock.advance(SESSION_SECONDS + 1)
        assert sessions.find(raw) is None
        first, _ = sessions.create()
        for _ in range(MAX_SESSIONS):
            clock.advance(1)
            sessions.create()
        assert sessions.find(first) is None  # the oldest went first
        with storage.transaction(write=False) as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(schema.sessions)).scalar() == MAX_SESSIONS
    finally:
        storage.close()


def test_sign_out_ends_the_session(admin_client):
    csrf = signed_in(admin_client)
    cookie = admin_client.http.cookies.get("syncstorage_admin")
    response = admin_client.http.post(ADMIN + "/sign-out", data={"csrf": csrf}, follow_redirects=False)
    assert response.status_code == 303
    admin_client.http.cookies.set("syncstorage_admin", cookie, path="/admin")  # replaying it does not help
    assert admin_client.http.get(ADMIN + "/users", follow_redirects=False).status_code == 303


def test_a_plain_token_is_refused_at_start_with_a_hint(monkeypatch):
    monkeypatch.setenv("SYNCSTORAGE_ADMIN_TOKEN", TOKEN)
    with pytest.raises(ConfigError) as refused:
        load_settings()
    message = str(refused.value)
    assert "\n" not in message and TOKEN not in message
    assert message.startswith("invalid setting admin_token (from SYNCSTORAGE_ADMIN_TOKEN): is not a hashed token")
    assert "syncstorage admin hash-token" in message
    monkeypatch.setenv("SYNCSTORAGE_ADMIN_TOKEN", TOKEN_HASH)
    assert load_settings().admin_token == TOKEN_HASH


def test_hash_token_command():
    result = CliRunner().invoke(cli, ["admin", "hash-token"], input=TOKEN + "\n")
    assert result.exit_code == 0, result.output
    phc = result.stdout.strip()
    assert phc.startswith("$scrypt$ln=15,r=8,p=1$")
    assert TokenHash(phc).matches(TOKEN) and not TokenHash(phc).matches(TOKEN + "x")
    short = CliRunner().invoke(cli, ["admin", "hash-token"], input="short\n")
    assert short.exit_code == 1 and "16 to 1024 characters" in short.output


@pytest.mark.parametrize("path", ["/1.5/admin", "admin", "/admin/../x", "/site", "/a b"])
def test_admin_path_must_be_a_plain_path(monkeypatch, path):
    monkeypatch.setenv("SYNCSTORAGE_ADMIN_PATH", path)
    with pytest.raises(ConfigError, match="invalid setting admin_path"):
        load_settings()


def test_admin_path_moves_the_page(make_client, sqlite_url):
    client = make_client(sqlite_url, admin_token=TOKEN_HASH, admin_path="/manage/")
    assert_error(client.http.get(ADMIN + "/sign-in"), 404)
    signed_in(client, PUBLIC_URL + "/manage")
    page = client.http.get(PUBLIC_URL + "/manage/nodes")
    assert page.status_code == 200 and 'href="/manage/admin.css"' in page.text


def test_public_url_path_prefix(make_client, sqlite_url):
    client = make_client(sqlite_url, admin_token=TOKEN_HASH, public_url="http://localhost:8000/sync")
    base = "http://localhost:8000/sync/admin"
    response = sign_in(client, base)
    assert response.headers["location"] == "/sync/admin/users"
    assert "Path=/sync/admin" in response.headers["set-cookie"]
    page = client.http.get(base + "/users")
    assert 'href="/sync/admin/admin.css"' in page.text and 'action="/sync/admin/sign-out"' in page.text
    assert client.http.get(base + "/admin.css").headers["content-type"] == "text/css; charset=utf-8"
