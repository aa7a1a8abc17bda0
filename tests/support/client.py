"""A small Sync client for end-to-end tests: tokens as the tokenserver mints
them, every request Hawk-signed, plain httpx underneath."""

from __future__ import annotations

import json
import secrets
import time

import httpx

from syncstorage.auth import derived_secret, hawk_header, make_token


def mint_token(secret: str, uid: int, node: str, lifetime: float = 3600) -> tuple[str, str]:
    """(token id, Hawk key) for `uid` on `node`, signed with `secret`."""
    fxa_uid = secrets.token_hex(16)
    payload = {
        "uid": uid,
        "node": node,
        "expires": time.time() + lifetime,
        "salt": secrets.token_hex(3),
        "fxa_uid": fxa_uid,
        "fxa_kid": f"{int(time.time() * 1000):013d}-{secrets.token_urlsafe(16)}",
        "hashed_fxa_uid": secrets.token_hex(16),
        "hashed_device_id": secrets.token_hex(16),
    }
    token = make_token(payload, secret)
    return token, derived_secret(token, secret)


class HawkAuth(httpx.Auth):
    """Signs each request with the project's client-side Hawk signer."""

    def __init__(self, token: str, key: str) -> None:
        self.token = token
        self.key = key

    def auth_flow(self, request: httpx.Request):
        request.headers["Authorization"] = hawk_header(request.method, str(request.url), self.token, self.key)
        yield request


class SyncClient:
    """One device of one user: requests relative to <base>/1.5/<uid>/."""

    def __init__(self, base_url: str, uid: int, token: str, key: str, *, root: str | None = None) -> None:
        self.uid = uid
        # Full URLs, not httpx's base_url: it would turn "" into a trailing "/".
        self.root = root or f"{base_url}/1.5/{uid}"
        self.http = httpx.Client(auth=HawkAuth(token, key), timeout=60)

    @classmethod
    def from_tokenserver(cls, credentials: dict, root: str | None = None) -> SyncClient:
        """The device a tokenserver answer makes: requests signed with its
        id/key, sent to its api_endpoint (or to `root`, e.g. another node)."""
        uid, token, key = credentials["uid"], credentials["id"], credentials["key"]
        return cls("", uid, token, key, root=root or credentials["api_endpoint"])

    def request(self, method: str, path: str, **kwargs) -> httpx.Response:
        url = f"{self.root}/{path}" if path else self.root
        return self.http.request(method, url, **kwargs)

    def get(self, path: str, **kwargs) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def put(self, path: str, **kwargs) -> httpx.Response:
        return self.request("PUT", path, **kwargs)

    def post(self, path: str, **kwargs) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def delete(self, path: str, **kwargs) -> httpx.Response:
        return self.request("DELETE", path, **kwargs)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def encrypted_payload(marker: str, size: int = 200) -> str:
    """A payload shaped like Firefox's encrypted records (ciphertext, IV,
    hmac). The server never decrypts, so the "ciphertext" just carries
    `marker` (for the test to recognise the record) and padding to `size`."""
    padding = secrets.token_urlsafe(size)[: max(0, size - len(marker))]
    return json.dumps(
        {
            "ciphertext": f"{marker}:{padding}",
            "IV": secrets.token_urlsafe(16)[:22] + "==",
            "hmac": secrets.token_hex(32),
        }
    )


def marker_of(payload: str) -> str:
    return json.loads(payload)["ciphertext"].split(":", 1)[0]
