"""Hostile input to the admin page: every answer is a 4xx, never a 500,
and nothing changes (admin/page.py `read_form`, the guards of routes.py)."""

from __future__ import annotations

import pytest

from admin.conftest import ADMIN, TOKEN, csrf_of, signed_in
from support.web import PUBLIC_URL
from syncstorage.admin.page import MAX_FORM_BYTES

FORM = {"content-type": "application/x-www-form-urlencoded"}


@pytest.mark.parametrize(
    "headers, body, status",
    [
        (FORM, b"csrf=" + b"x" * MAX_FORM_BYTES, 413),
        ({**FORM, "content-length": "99999999999"}, b"", 413),
        ({"content-type": "multipart/form-data; boundary=x"}, b"--x--", 415),
        ({"content-type": "application/json"}, b'{"csrf": "x"}', 415),
        ({}, b"csrf=x", 415),
        (FORM, "csrf=\u00e9".encode(), 400),  # not ASCII
        (FORM, b"csrf=%ff%fe", 400),  # not UTF-8 once decoded
        (FORM, b"&".join(b"f%d=1" % n for n in range(20)), 400),  # too many fields
    ],
)
def test_malformed_forms(admin_client, tokenserver, headers, body, status):
    signed_in(admin_client)
    for path in ("/nodes/down", "/sign-in"):
        response = admin_client.http.post(ADMIN + path, content=body, headers=headers)
        assert response.status_code == status, (path, response.text)
        assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert not tokenserver.node().downed


def test_a_chunked_form_is_bounded_too(admin_client):
    signed_in(admin_client)

    def chunks():
        for _ in range(100):
            yield b"x" * 1000

    response = admin_client.http.post(ADMIN + "/sign-in", content=chunks(), headers=FORM)
    assert response.status_code == 413


@pytest.mark.parametrize(
    "cookie",
    ["", "x", "\u00e9" * 10, "a" * 4000, '"quoted"', "syncstorage_admin=nested", "%00%ff"],
)
def test_bad_cookies(admin_client, cookie):
    raw = f"syncstorage_admin={cookie}; syncstorage_admin_signin={cookie}".encode("utf-8")
    headers = {"cookie": raw}
    page = admin_client.http.get(ADMIN + "/users", headers=headers, follow_redirects=False)
    assert page.status_code == 303
    form = admin_client.http.get(ADMIN + "/sign-in", headers=headers)
    assert form.status_code == 200 and csrf_of(form.text) != cookie
    action = admin_client.http.post(ADMIN + "/nodes/down", headers=headers, data={"node": PUBLIC_URL, "csrf": cookie})
    assert action.status_code == 403
    sign_in = admin_client.http.post(ADMIN + "/sign-in", headers=headers, data={"token": TOKEN, "csrf": cookie})
    assert sign_in.status_code == 403


@pytest.mark.parametrize(
    "query",
    ["before=abc", "before=-1", "before=" + "9" * 30, "before=1.5", "q=" + "a" * 300],
)
def test_bad_listing_parameters(admin_client, query):
    signed_in(admin_client)
    assert admin_client.http.get(ADMIN + "/users?" + query).status_code == 400


@pytest.mark.parametrize("path", ["/users/-1", "/users/abc", "/users/1%00", "/nodes/%2e%2e", "/../users"])
def test_odd_paths(admin_client, path):
    signed_in(admin_client)
    assert 400 <= admin_client.http.get(ADMIN + path).status_code < 500


def test_node_form_without_a_node(admin_client):
    csrf = signed_in(admin_client)
    assert admin_client.http.post(ADMIN + "/nodes/drain", data={"csrf": csrf}).status_code == 400
    assert admin_client.http.post(ADMIN + "/nodes/drain", data={"csrf": csrf, "node": "http://" + "x" * 5000}).status_code == 413


def test_a_search_ending_in_the_last_unicode_character(admin_client, tokenserver):
    """No character follows U+10FFFF: the prefix range is open-ended (db/prefix.py)."""
    signed_in(admin_client)
    page = admin_client.http.get(ADMIN + "/users", params={"q": "a\U0010ffff"})
    assert page.status_code == 200 and "no user matches" in page.text
