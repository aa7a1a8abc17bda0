"""The routes of the accounts pages (src/syncstorage/accounts/pages): every
path Firefox opens answers (accounts spec §2.4, §2.5), always with the
strict Content-Security-Policy, and only the shipped assets are served."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from syncstorage.accounts.pages import CONTENT_SECURITY_POLICY, HERE, page_routes

ROOT = Path(__file__).resolve().parents[2]
FIREFOX_QUERY = ("context=oauth_webchannel_v1&entrypoint=preferences&action=email&service=sync"
                 "&client_id=5882386c6d801776&response_type=code&access_type=offline"
                 "&scope=https%3A%2F%2Fidentity.mozilla.com%2Fapps%2Foldsync+profile&state=abc")


@pytest.fixture(scope="module")
def client():
    return TestClient(Starlette(routes=page_routes()))


def assert_locked_down(response):
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"


@pytest.mark.parametrize("path", ["/", "/signup", "/reset_password", "/settings", "/settings/clients", "/connect_another_device"])
def test_pages_firefox_opens_are_html_with_a_strict_policy(client, path):
    response = client.get(f"{path}?{FIREFOX_QUERY}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["cache-control"] == "no-store"
    assert_locked_down(response)
    policy = dict(part.split(" ", 1) for part in CONTENT_SECURITY_POLICY.split("; "))
    assert policy["script-src"] == policy["style-src"] == "'self'"
    assert policy["default-src"] == "'none'" and policy["frame-ancestors"] == "'none'"


@pytest.mark.parametrize("path", ["/", "/signup", "/settings", "/connect_another_device"])
def test_pages_have_no_inline_code_and_only_local_assets(client, path):
    html = client.get(path).text
    assert "<style" not in html and " style=" not in html
    assert re.findall(r"<script\b[^>]*>(.*?)</script>", html, re.S) in ([], [""])
    assert not re.search(r"\bon[a-z]+=", html)  # no inline event handlers
    for url in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert url.startswith("/"), url  # nothing from another origin
        if url.startswith("/assets/"):
            assert client.get(url).status_code == 200, url


def test_every_form_control_has_a_label(client):
    for path in ("/", "/settings"):
        html = client.get(path).text
        labelled = set(re.findall(r'<label for="([^"]+)"', html))
        controls = set(re.findall(r'<input id="([^"]+)"', html))
        assert controls and controls <= labelled, (path, controls - labelled)


@pytest.mark.parametrize(("name", "media_type"), [("signin.js", "text/javascript"), ("style.css", "text/css")])
def test_assets_are_served_with_their_type(client, name, media_type):
    response = client.get(f"/assets/{name}")
    assert response.status_code == 200
    assert response.headers["content-type"] == f"{media_type}; charset=utf-8"
    assert_locked_down(response)
    assert response.content == (HERE / "assets" / name).read_bytes()


@pytest.mark.parametrize("name", ["missing.js", "..%2F__init__.py", "%2E%2E%2Fsignin.html", "bytes.js.map"])
def test_nothing_but_the_shipped_assets_is_served(client, name):
    response = client.get(f"/assets/{name}")
    assert response.status_code == 404
    assert b"import" not in response.content and b"<html" not in response.content


@pytest.mark.parametrize(("path", "target"), [
    ("/settings/avatar/change", "/settings"),
    ("/pair", "/"),
    ("/oauth", "/"),
    ("/post_verify/third_party_auth/set_password", "/"),
])
def test_paths_without_a_page_lead_to_one_keeping_the_query(client, path, target):
    response = client.get(f"{path}?{FIREFOX_QUERY}", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"{target}?{FIREFOX_QUERY}"


def test_metrics_flow_answers_no_content(client):
    assert client.get("/metrics-flow?entrypoint=x").status_code == 204


def test_only_get_is_answered(client):
    assert client.post("/", data={"email": "a@b", "password": "x"}).status_code == 405
    assert client.head("/").status_code == 200


def test_the_pages_are_package_data():
    """pyproject's package-data names every page and asset, so that an
    installed (not editable) server has them."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    package = ROOT / "src" / "syncstorage"
    covered = {path for pattern in config["tool"]["setuptools"]["package-data"]["syncstorage"]
               for path in package.glob(pattern)}
    shipped = {path for path in HERE.rglob("*") if path.suffix in (".html", ".js", ".css")}
    assert shipped and shipped <= covered, shipped - covered
