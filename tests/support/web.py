"""Helpers of the HTTP tests: a Hawk-signing client and assertions.

Kept apart from conftest.py so test modules can import them by a name that is
unique across the test tree.
"""

from __future__ import annotations

import httpx
from starlette.testclient import TestClient

from syncstorage.auth import derived_secret, hawk_header, make_token
from syncstorage.settings import Settings

SECRET = "http-tests-master-secret"
PUBLIC_URL = "http://localhost:8000"


class HawkAuth(httpx.Auth):
    """Signs each request over its raw path and query, as Firefox does."""

    def __init__(self, token: str, key: str) -> None:
        self.token = token
        self.key = key

    def auth_flow(self, request: httpx.Request):
        url = request.url
        signed_url = f"{url.scheme}://{url.host}:{url.port or 80}{url.raw_path.decode('ascii')}"
        request.headers["Authorization"] = hawk_header(request.method, signed_url, self.token, self.key)
        yield request


def credentials(uid: int, node: str = PUBLIC_URL, *, duration: float = 3600, secret: str = SECRET) -> HawkAuth:
    token = make_token({"uid": uid, "node": node, "fxa_uid": "f" * 32, "fxa_kid": "k"}, secret, duration=duration)
    return HawkAuth(token, derived_secret(token, secret))


class SyncClient:
    """Requests below <public_url>/1.5/<uid>, signed for that uid."""

    def __init__(self, http: TestClient, settings: Settings, uid: int = 1) -> None:
        self.http = http
        self.settings = settings
        self.uid = uid
        self.public_url = settings.effective_public_url
        self.auth = credentials(uid, self.public_url)
        self.base = f"{self.public_url}/1.5/{uid}"

    def request(self, method: str, path: str = "", *, auth: httpx.Auth | None | bool = True, **kwargs) -> httpx.Response:
        url = path if path.startswith("http") else self.base + path
        if auth is True:
            auth = self.auth
        elif auth is False:
            auth = None
        return self.http.request(method, url, auth=auth, **kwargs)

    def get(self, path: str = "", **kwargs) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def put(self, path: str = "", **kwargs) -> httpx.Response:
        return self.request("PUT", path, **kwargs)

    def post(self, path: str = "", **kwargs) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def delete(self, path: str = "", **kwargs) -> httpx.Response:
        return self.request("DELETE", path, **kwargs)

    def as_user(self, uid: int) -> SyncClient:
        return SyncClient(self.http, self.settings, uid)

    # --- shortcuts for test set-up and checks ---

    def upload(self, collection: str, *records: dict) -> httpx.Response:
        response = self.post(f"/storage/{collection}", json=list(records))
        assert response.status_code == 200, response.text
        assert not response.json()["failed"], response.text
        return response

    def state(self) -> dict:
        """Everything the user has, to show a rejected request changed nothing."""
        collections = self.get("/info/collections")
        assert collections.status_code == 200
        return {
            "collections": collections.text,
            "storage_ts": collections.headers["X-Last-Modified"],
            "items": {
                name: self.get(f"/storage/{name}?full=1").text for name in collections.json()
            },
        }


BAD_CRYPTO = '{"IV": "AAAAAAAAAAAAAAAAAAAAAA==", "hmac": "x", "ciphertext": "y"}'


def assert_error(response: httpx.Response, status: int, code: int = 0) -> None:
    """An error answer of the storage API: status, JSON content type, bare integer body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.text == str(code)
