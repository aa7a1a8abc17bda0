"""A Python client of the built-in accounts server, written from Firefox's
own client code (omni.ja: Credentials.sys.mjs, FxAccountsClient.sys.mjs,
hawkrequest/CryptoUtils.computeHAWK, FxAccountsKeys._deriveLegacyScopedKey,
FxAccountsOAuth) and spec accounts.md §4-§5, for the end-to-end tests.

It does what the sign-in page does in the browser: stretches the password
(onepw v1), creates or logs in to the account, fetches and unwraps kB,
builds `keys_jwe` for a Firefox-like ECDH key, and then what Firefox does
with the code (PKCE exchange, session-token grants, devices).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from jwcrypto import jwe, jwk

from support.mock_fxa import b64url, encrypt_keys
from syncstorage.auth.hawk import hawk_header

NAMESPACE = "identity.mozilla.com/picl/v1/"
SYNC_SCOPE = "https://identity.mozilla.com/apps/oldsync"
FIREFOX_CLIENT_ID = "5882386c6d801776"


def kw(name: str) -> bytes:
    return (NAMESPACE + name).encode()


def hkdf(ikm: bytes, info: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(ikm)


def xor(a: bytes, b: bytes) -> bytes:
    assert len(a) == len(b)
    return bytes(x ^ y for x, y in zip(a, b))


@dataclass(frozen=True)
class Credentials:
    """Credentials.setup (v1): what the page derives from email + password."""

    quick_stretched_pw: bytes
    auth_pw: bytes
    unwrap_b_key: bytes

    @classmethod
    def v1(cls, email: str, password: str) -> Credentials:
        salt = kw("quickStretch") + b":" + email.encode("utf-8")
        quick = PBKDF2HMAC(hashes.SHA256(), 32, salt, 1000).derive(password.encode("utf-8"))
        return cls(quick, hkdf(quick, kw("authPW"), 32), hkdf(quick, kw("unwrapBkey"), 32))


def token_credentials(token_hex: str, kind: str) -> tuple[str, bytes, bytes]:
    """deriveHawkCredentials: (Hawk id, Hawk key, extra) of a token."""
    out = hkdf(bytes.fromhex(token_hex), kw(kind), 96)
    return out[:32].hex(), out[32:64], out[64:]


def unbundle(key_fetch_token: str, bundle_hex: str) -> tuple[bytes, bytes]:
    """FxAccountsClient.accountKeys: (kA, wrapKb), after checking the MAC."""
    _id, _key, key_request_key = token_credentials(key_fetch_token, "keyFetchToken")
    derived = hkdf(key_request_key[:32], kw("account/keys"), 96)
    resp_hmac_key, resp_xor_key = derived[:32], derived[32:]
    bundle = bytes.fromhex(bundle_hex)
    if not hmac.compare_digest(bundle[-32:], hmac.digest(resp_hmac_key, bundle[:-32], "sha256")):
        raise ValueError("error unbundling encryption keys")
    plain = xor(resp_xor_key, bundle[:64])
    return plain[:32], plain[32:]


def payload_hash(content_type: str, body: bytes) -> str:
    media = content_type.split(";")[0].strip().lower().encode()
    return base64.b64encode(hashlib.sha256(b"hawk.1.payload\n" + media + b"\n" + body + b"\n").digest()).decode()


def sync_key(kb: bytes, keys_changed_at: int) -> dict[str, str]:
    """FxAccountsKeys._deriveLegacyScopedKey: the oldsync scoped key (§5.8)."""
    client_state = hashlib.sha256(kb).digest()[:16]
    return {
        "kty": "oct",
        "scope": SYNC_SCOPE,
        "kid": f"{keys_changed_at}-{b64url(client_state)}",
        "k": b64url(hkdf(kb, kw("oldsync"), 64)),
    }


class ApiError(Exception):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"{status} {body}")
        self.status = status
        self.body = body if isinstance(body, dict) else {}
        self.errno = self.body.get("errno")


@dataclass
class SignedIn:
    email: str
    password: str
    uid: str
    session_token: str
    key_fetch_token: str | None
    unwrap_b_key: bytes


class FirefoxFlow:
    """What Firefox holds for one OAuth flow: state, PKCE verifier, ECDH key
    (FxAccountsOAuth.beginOAuthFlow)."""

    def __init__(self) -> None:
        self.state = b64url(secrets.token_bytes(16))
        self.verifier = b64url(secrets.token_bytes(32))
        self.challenge = b64url(hashlib.sha256(self.verifier.encode()).digest())
        self.key = jwk.JWK.generate(kty="EC", crv="P-256")
        public = json.loads(self.key.export_public())
        self.keys_jwk = b64url(json.dumps({"crv": "P-256", "kty": "EC", "x": public["x"], "y": public["y"]}).encode())

    def decrypt(self, keys_jwe: str) -> dict[str, Any]:
        token = jwe.JWE()
        token.deserialize(keys_jwe, key=self.key)
        return json.loads(token.payload)


class OnepwClient:
    def __init__(self, base_url: str, *, http: httpx.Client | None = None, now: Callable[[], float] = time.time) -> None:
        """`http`: e.g. a Starlette TestClient for an in-process app; `now`:
        the clock Hawk timestamps are taken from (a test's advancing clock)."""
        self.base_url = base_url.rstrip("/")
        self.http = http or httpx.Client(base_url=self.base_url, timeout=30)
        self.now = now

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> OnepwClient:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # --- transport ---

    def request(
        self, method: str, path: str, body: Any = None, *, token: str | None = None, kind: str = "sessionToken",
        headers: dict[str, str] | None = None,
    ) -> Any:
        response = self.raw(method, path, body, token=token, kind=kind, headers=headers)
        answer = response.json() if response.content else None
        if response.status_code >= 400 or (isinstance(answer, dict) and answer.get("error")):
            raise ApiError(response.status_code, answer)
        return answer

    def raw(
        self, method: str, path: str, body: Any = None, *, token: str | None = None, kind: str = "sessionToken",
        headers: dict[str, str] | None = None, ts: int | None = None, nonce: str | None = None,
    ) -> httpx.Response:
        # As Firefox's hawkclient: the payload is "{}" when there is no data,
        # hashed with text/plain for a GET, which then sends no body at all.
        payload = json.dumps(body if body is not None else {}).encode()
        sent = dict(headers or {})
        if method == "GET":
            content, content_type = b"", "text/plain"
        else:
            content, content_type = payload, "application/json; charset=utf-8"
            sent.setdefault("Content-Type", content_type)
        if token is not None:
            hawk_id, key, _extra = token_credentials(token, kind)
            digest = payload_hash(sent.get("Content-Type", content_type), payload)
            ts = int(self.now()) if ts is None else ts
            sent["Authorization"] = hawk_header(method, self.base_url + path, hawk_id, key, hash=digest, ts=ts, nonce=nonce)
        return self.http.request(method, path, content=content or None, headers=sent)

    # --- onepw (§4) ---

    def create(self, email: str, password: str, *, invite: str | None = None, verified: bool = True) -> SignedIn:
        """`verified` False: the server must answer that the session waits
        for a code mailed (email-otp)."""
        return self._session("/v1/account/create?keys=true", email, password, invite=invite, verified=verified)

    def login(self, email: str, password: str, *, verified: bool = True) -> SignedIn:
        return self._session("/v1/account/login?keys=true", email, password, verified=verified)

    def _session(
        self, path: str, email: str, password: str, invite: str | None = None, verified: bool = True
    ) -> SignedIn:
        creds = Credentials.v1(email, password)
        body: dict[str, Any] = {"email": email, "authPW": creds.auth_pw.hex()}
        if invite is not None:
            body["invite"] = invite
        answer = self.request("POST", path, body)
        assert answer["verified"] is verified and isinstance(answer["authAt"], int)
        assert verified or answer["verificationMethod"] == "email-otp"
        return SignedIn(email, password, answer["uid"], answer["sessionToken"], answer.get("keyFetchToken"),
                        creds.unwrap_b_key)

    def kb(self, signed_in: SignedIn) -> bytes:
        assert signed_in.key_fetch_token is not None
        bundle = self.request("GET", "/v1/account/keys", token=signed_in.key_fetch_token, kind="keyFetchToken")
        _ka, wrap_kb = unbundle(signed_in.key_fetch_token, bundle["bundle"])
        return xor(wrap_kb, signed_in.unwrap_b_key)

    def change_password(self, signed_in: SignedIn, new_password: str) -> SignedIn:
        """§7.1 as the settings page does it: kB kept, re-wrapped."""
        old = Credentials.v1(signed_in.email, signed_in.password)
        start = self.request("POST", "/v1/password/change/start",
                             {"email": signed_in.email, "oldAuthPW": old.auth_pw.hex()}, token=signed_in.session_token)
        bundle = self.request("GET", "/v1/account/keys", token=start["keyFetchToken"], kind="keyFetchToken")
        kb = xor(unbundle(start["keyFetchToken"], bundle["bundle"])[1], old.unwrap_b_key)
        new = Credentials.v1(signed_in.email, new_password)
        session_id, _key, _extra = token_credentials(signed_in.session_token, "sessionToken")
        answer = self.request(
            "POST", "/v1/password/change/finish?keys=true",
            {"authPW": new.auth_pw.hex(), "wrapKb": xor(kb, new.unwrap_b_key).hex(), "sessionToken": session_id},
            token=start["passwordChangeToken"], kind="passwordChangeToken",
        )
        return SignedIn(signed_in.email, new_password, answer["uid"], answer["sessionToken"],
                        answer.get("keyFetchToken"), new.unwrap_b_key)

    def reset(self, email: str, reset_token: str, new_password: str) -> SignedIn:
        new = Credentials.v1(email, new_password)
        answer = self.request("POST", "/v1/account/reset?keys=true",
                              {"email": email, "authPW": new.auth_pw.hex(), "sessionToken": True},
                              token=reset_token, kind="accountResetToken")
        return SignedIn(email, new_password, answer["uid"], answer["sessionToken"], answer.get("keyFetchToken"),
                        new.unwrap_b_key)

    # --- OAuth, as the page then Firefox do it (§3.3 steps 6-9) ---

    def authorize(self, signed_in: SignedIn, kb: bytes, flow: FirefoxFlow, scope: str = f"profile {SYNC_SCOPE}") -> str:
        data = self.request("POST", "/v1/account/scoped-key-data",
                            {"client_id": FIREFOX_CLIENT_ID, "scope": SYNC_SCOPE}, token=signed_in.session_token)
        key = sync_key(kb, data[SYNC_SCOPE]["keyRotationTimestamp"])
        answer = self.request("POST", "/v1/oauth/authorization", {
            "client_id": FIREFOX_CLIENT_ID, "state": flow.state, "scope": scope, "access_type": "offline",
            "response_type": "code", "code_challenge": flow.challenge, "code_challenge_method": "S256",
            "keys_jwe": encrypt_keys(flow.keys_jwk, {SYNC_SCOPE: key}),
        }, token=signed_in.session_token)
        assert answer["state"] == flow.state
        return answer["code"]

    def exchange(self, signed_in: SignedIn, flow: FirefoxFlow, code: str) -> dict[str, Any]:
        return self.request("POST", "/v1/oauth/token", {
            "grant_type": "authorization_code", "code": code, "client_id": FIREFOX_CLIENT_ID,
            "code_verifier": flow.verifier,
        }, token=signed_in.session_token)

    def access_token(self, session_token: str, scope: str = SYNC_SCOPE, ttl: int | None = 21600) -> dict[str, Any]:
        body: dict[str, Any] = {"client_id": FIREFOX_CLIENT_ID, "grant_type": "fxa-credentials", "scope": scope}
        if ttl is not None:
            body["ttl"] = ttl
        return self.request("POST", "/v1/oauth/token", body, token=session_token)
