"""A stand-in Firefox Accounts OAuth server on a loopback port, for tests.

A real HTTP server in a thread: it holds generated RSA keys, publishes them
at /v1/jwks, signs real RS256 JWT access tokens, and answers /v1/verify for
both its JWTs and opaque (non-JWT) tokens, as the accounts server does.

For a real Firefox (tests/firefox) it also plays the accounts server's side
of sign-in: accounts with a kB, an OAuth authorization code bound to Firefox's
PKCE challenge and ECDH key, the code exchanged for a JWT and `keys_jwe` (the
sync key encrypted to that ECDH key), session-token grants, and the device,
profile and push-less bookkeeping endpoints Firefox calls afterwards.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from jwcrypto import jwe, jwk

from syncstorage.auth import AuthError
from syncstorage.auth.hawk import compute_mac, hawk_header, macs_equal, normalized_string, parse_authorization

SYNC_SCOPE = "https://identity.mozilla.com/apps/oldsync"
FIREFOX_CLIENT_ID = "5882386c6d801776"


@cache
def _rsa_key(index: int) -> rsa.RSAPrivateKey:
    # Key generation is slow-ish; tests reuse a small pool.
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    jwk = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {**jwk, "kid": kid, "alg": "RS256", "use": "sig"}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hkdf(secret: bytes, info: str, length: int) -> bytes:
    """HKDF-SHA256 without salt, as Firefox's CryptoUtils.hkdfLegacy."""
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info.encode()).derive(secret)


def hawk_credentials(session_token: str) -> tuple[str, bytes]:
    """(id, key) Firefox signs its accounts requests with: the two halves
    of HKDF(sessionToken, "identity.mozilla.com/picl/v1/sessionToken")."""
    derived = hkdf(bytes.fromhex(session_token), "identity.mozilla.com/picl/v1/sessionToken", 64)
    return derived[:32].hex(), derived[32:]


@dataclass
class Account:
    """One accounts-server user: what Firefox learns at sign-in."""

    email: str
    uid: str = field(default_factory=lambda: secrets.token_hex(16))
    kb: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    keys_changed_at: int = field(default_factory=lambda: int(time.time() * 1000))  # ms
    generation: int = field(default_factory=lambda: int(time.time() * 1000))
    session_tokens: set[str] = field(default_factory=set)

    def new_session(self) -> str:
        token = secrets.token_hex(32)
        self.session_tokens.add(token)
        return token

    @property
    def client_state(self) -> str:
        return hashlib.sha256(self.kb).digest()[:16].hex()

    @property
    def key_id(self) -> str:
        """The sync key's kid, which Firefox sends as X-KeyID."""
        return f"{self.keys_changed_at}-{b64url(bytes.fromhex(self.client_state))}"

    def sync_key(self) -> dict[str, str]:
        """The oldsync scoped key as a JWK (FxAccountsKeys._deriveLegacyScopedKey)."""
        k = hkdf(self.kb, "identity.mozilla.com/picl/v1/oldsync", 64)
        return {"kty": "oct", "scope": SYNC_SCOPE, "kid": self.key_id, "k": b64url(k)}

    def change_keys(self) -> None:
        """A password reset: new kB, keys and generation bumped, every
        session (so every signed-in device) ended."""
        self.kb = secrets.token_bytes(32)
        self.keys_changed_at = self.generation = max(int(time.time() * 1000), self.generation + 1)
        self.session_tokens.clear()


def encrypt_keys(keys_jwk: str, scoped_keys: dict[str, Any]) -> str:
    """`keys_jwe`: the scoped keys encrypted to Firefox's ephemeral ECDH key
    (ECDH-ES + A256GCM, compact form; Firefox refuses apu/apv)."""
    recipient = jwk.JWK(**json.loads(b64url_decode(keys_jwk)))
    token = jwe.JWE(
        json.dumps(scoped_keys).encode(),
        protected={"alg": "ECDH-ES", "enc": "A256GCM"},
        recipient=recipient,
    )
    return token.serialize(compact=True)


def fxa_error(status: int, errno: int, message: str) -> tuple[int, dict[str, Any]]:
    """An accounts-server error body; Firefox reads errno only when "error" is there."""
    reasons = {400: "Bad Request", 401: "Unauthorized", 404: "Not Found"}
    return status, {"code": status, "errno": errno, "error": reasons[status], "message": message}


INVALID_SESSION = fxa_error(401, 110, "Invalid authentication token")


class MockFxA:
    def __init__(self) -> None:
        self.signing_keys: dict[str, rsa.RSAPrivateKey] = {"key-1": _rsa_key(0)}
        self.current_kid = "key-1"
        self.published_jwks: list[Any] | None = None  # None: the public signing keys
        self.jwks_status = 200
        self.delay = 0.0  # seconds to wait before answering anything
        self.jwks_requests = 0
        self.verify_requests: list[dict[str, Any]] = []
        self.opaque_tokens: dict[str, dict[str, Any]] = {}
        # (status, raw body) to answer every /v1/verify with, instead of checking.
        self.verify_response: tuple[int, bytes] | None = None
        self.accounts: dict[str, Account] = {}  # by uid
        self.codes: dict[str, dict[str, Any]] = {}  # OAuth authorization codes
        self.devices: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str, int]] = []  # (method, path, status) of the account API
        self.lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # --- keys ---

    def jwks(self) -> list[dict[str, Any]]:
        return [public_jwk(key, kid) for kid, key in self.signing_keys.items()]

    def rotate_key(self, kid: str) -> None:
        """Start signing with a new key, published from now on."""
        self.signing_keys[kid] = _rsa_key(len(self.signing_keys))
        self.current_kid = kid

    # --- tokens ---

    def access_token(
        self,
        sub: str,
        *,
        scope: str = SYNC_SCOPE,
        generation: int | None = None,
        expires_in: int = 300,
        typ: str | None = "at+jwt",
        kid: str | None = None,
        signing_key: rsa.RSAPrivateKey | None = None,
        **extra_claims: Any,
    ) -> str:
        kid = kid or self.current_kid
        now = int(time.time())
        claims = {
            "iss": "https://accounts.firefox.com",
            "aud": "https://token.services.mozilla.com",
            "client_id": FIREFOX_CLIENT_ID,
            "iat": now,
            "exp": now + expires_in,
            "jti": uuid.uuid4().hex,
            "sub": sub,
            "scope": scope,
            **extra_claims,
        }
        if generation is not None:
            claims["fxa-generation"] = generation
        key = signing_key or self.signing_keys[kid]
        # typ None makes PyJWT leave the header out.
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid, "typ": typ})

    def opaque_token(
        self, user: str, *, scope: list[str] | None = None, generation: int | None = None
    ) -> str:
        """A bearer value that is not a JWT (spaces, dots, quotes, braces),
        as stand-in accounts servers hand out; only /v1/verify knows it."""
        token = json.dumps({"user": user, "n": uuid.uuid4().hex, "v": "1.0. x"})
        self.opaque_tokens[token] = {
            "user": user,
            "client_id": FIREFOX_CLIENT_ID,
            "scope": scope if scope is not None else [SYNC_SCOPE],
            "generation": generation,
            "profile_changed_at": 1,
        }
        return token

    def _verify(self, token: str) -> tuple[int, dict[str, Any]]:
        if token in self.opaque_tokens:
            return 200, self.opaque_tokens[token]
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            key = self.signing_keys[kid].public_key()
            claims = jwt.decode(token, key, algorithms=["RS256"], options={"verify_aud": False})
        except (jwt.PyJWTError, KeyError):
            return 400, {"code": 400, "errno": 108, "error": "Bad Request", "message": "Invalid token"}
        return 200, {
            "user": claims["sub"],
            "client_id": claims.get("client_id"),
            "scope": claims["scope"].split(),
            "generation": claims.get("fxa-generation"),
        }

    # --- accounts, for a real Firefox ---

    def create_account(self, email: str) -> Account:
        account = Account(email=email)
        self.accounts[account.uid] = account
        return account

    def _session_account(self, method: str, path_qs: str, host: str, authorization: str | None) -> Account | None:
        """The account whose session token signed this Hawk request (the
        MAC checked; the payload hash, nonce and clock are not: the sync
        server never sees these requests)."""
        try:
            attributes = parse_authorization(authorization or "")
        except AuthError:
            return None
        hostname, _, port = host.rpartition(":")
        for account in self.accounts.values():
            for token in account.session_tokens:
                token_id, key = hawk_credentials(token)
                if token_id == attributes["id"]:
                    text = normalized_string(
                        ts=attributes["ts"], nonce=attributes["nonce"], method=method, path_qs=path_qs,
                        host=hostname, port=port, hash=attributes.get("hash", ""), ext=attributes.get("ext", ""),
                    )
                    return account if macs_equal(compute_mac(key, text), attributes["mac"]) else None
        return None

    def authorize(self, account: Account, session_token: str, params: dict[str, str]) -> dict[str, str]:
        """What accounts.firefox.com's web page does once the user signed
        in: POST /v1/oauth/authorization with Firefox's oauthBegin params."""
        import httpx  # only the Firefox tests need the client side

        body = {
            "client_id": params["client_id"],
            "state": params["state"],
            "scope": params["scope"],
            "access_type": params["access_type"],
            "response_type": params["response_type"],
            "code_challenge": params["code_challenge"],
            "code_challenge_method": params["code_challenge_method"],
            "keys_jwk": params["keys_jwk"],
        }
        url = f"{self.url}/v1/oauth/authorization"
        headers = {"Authorization": hawk_header("POST", url, *hawk_credentials(session_token))}
        response = httpx.post(url, json=body, headers=headers, timeout=10)
        response.raise_for_status()
        return response.json()

    def _oauth_authorization(self, account: Account | None, body: dict) -> tuple[int, Any]:
        if account is None:
            return INVALID_SESSION
        if body.get("client_id") != FIREFOX_CLIENT_ID:
            return fxa_error(400, 162, f"unknown client_id {body.get('client_id')!r}")
        if body.get("code_challenge_method") != "S256" or not body.get("keys_jwk"):
            return fxa_error(400, 107, "PKCE S256 and keys_jwk required")
        scopes = body["scope"].split()
        keys = {SYNC_SCOPE: account.sync_key()} if SYNC_SCOPE in scopes else {}
        code = secrets.token_hex(32)
        self.codes[code] = {
            "uid": account.uid,
            "scope": body["scope"],
            "challenge": body["code_challenge"],
            "keys_jwe": encrypt_keys(body["keys_jwk"], keys) if keys else None,
        }
        return 200, {"code": code, "state": body["state"], "redirect": "urn:ietf:wg:oauth:2.0:oob"}

    def _oauth_token(self, account: Account | None, body: dict) -> tuple[int, Any]:
        grant = body.get("grant_type")
        if grant == "authorization_code":
            grant_data = self.codes.pop(body.get("code", ""), None)
            verifier = body.get("code_verifier", "")
            if grant_data is None or b64url(hashlib.sha256(verifier.encode()).digest()) != grant_data["challenge"]:
                return fxa_error(400, 105, "Unknown code or bad PKCE verifier")
            account = self.accounts[grant_data["uid"]]
            scope = grant_data["scope"]
            answer = {"refresh_token": secrets.token_hex(32), "keys_jwe": grant_data["keys_jwe"]}
        elif grant == "fxa-credentials":
            if account is None:
                return INVALID_SESSION
            scope, answer = body.get("scope", ""), {}
        else:
            return fxa_error(400, 107, f"unsupported grant {grant!r}")
        token = self.access_token(account.uid, scope=scope, generation=account.generation, expires_in=3600)
        return 200, {
            **answer,
            "access_token": token,
            "token_type": "bearer",
            "scope": scope,
            "expires_in": 3600,
            "auth_at": int(time.time()),
        }

    def _account_api(self, method: str, path_and_query: str, account: Account | None, body: Any) -> tuple[int, Any]:
        """The accounts endpoints Firefox calls besides /v1/oauth/token."""
        path = urlsplit(path_and_query).path
        if path == "/v1/oauth/authorization" and method == "POST":
            return self._oauth_authorization(account, body)
        if path == "/v1/oauth/token" and method == "POST":
            return self._oauth_token(account, body)
        if path == "/v1/oauth/destroy" and method == "POST":
            return 200, {}
        if path == "/v1/account/status" and method == "GET":  # unauthenticated: does the account exist?
            return 200, {"exists": parse_qs(urlsplit(path_and_query).query).get("uid", [""])[0] in self.accounts}
        if account is None:
            return INVALID_SESSION
        if path == "/v1/account/device" and method == "POST":
            device_id = body.get("id") or secrets.token_hex(16)  # no id: a registration
            self.devices[device_id] = {**self.devices.get(device_id, {}), **body, "id": device_id}
            return 200, self.devices[device_id]
        if path == "/v1/account/devices" and method == "GET":
            return 200, [{**d, "isCurrentDevice": False} for d in self.devices.values()]
        if path == "/v1/account/attached_clients" and method == "GET":
            return 200, []
        if path == "/v1/account/devices/notify" and method == "POST":
            return 200, {}
        if path == "/v1/account/device/commands" and method == "GET":
            return 200, {"index": 0, "last": True, "messages": []}
        if path in ("/v1/recovery_email/status", "/v1/session/status") and method == "GET":
            return 200, {"email": account.email, "uid": account.uid, "verified": True,
                         "sessionVerified": True, "emailVerified": True, "state": "verified"}
        if path == "/profile/v1/profile" and method == "GET":
            return 200, {"uid": account.uid, "email": account.email, "locale": "en-US",
                         "displayName": None, "avatar": None, "avatarDefault": True}
        return fxa_error(404, 999, f"not in the stand-in: {method} {path}")

    def _bearer_account(self, authorization: str | None) -> Account | None:
        """/profile/v1 is called with an OAuth bearer token, not Hawk."""
        if authorization and authorization.startswith("Bearer "):
            try:
                kid = jwt.get_unverified_header(authorization[7:]).get("kid")
                claims = jwt.decode(authorization[7:], self.signing_keys[kid].public_key(), algorithms=["RS256"],
                                    options={"verify_aud": False})
            except (jwt.PyJWTError, KeyError):
                return None
            return self.accounts.get(claims["sub"])
        return None

    def _answer_account_api(self, handler, method: str, raw: bytes) -> None:
        path = urlsplit(handler.path).path
        authorization = handler.headers.get("Authorization")
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            return handler._send(*fxa_error(400, 107, "body is not JSON"))
        with self.lock:
            account = (self._session_account(method, handler.path, handler.headers.get("Host", ""), authorization)
                       or self._bearer_account(authorization))
            status, answer = self._account_api(method, handler.path, account, body)
            self.requests.append((method, path, status))
        handler._send(status, answer)

    # --- HTTP ---

    def _handler_class(self):
        mock = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def _send(self, status: int, body: Any) -> None:
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout tests)

            def do_GET(self):
                time.sleep(mock.delay)
                if self.path != "/v1/jwks":
                    return mock._answer_account_api(self, "GET", b"")
                mock.jwks_requests += 1
                keys = mock.jwks() if mock.published_jwks is None else mock.published_jwks
                self._send(mock.jwks_status, {"keys": keys})

            def do_POST(self):
                time.sleep(mock.delay)
                # Like minimal accounts servers: read exactly Content-Length bytes.
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                if self.path != "/v1/verify":
                    return mock._answer_account_api(self, "POST", raw)
                mock.verify_requests.append({"headers": dict(self.headers), "body": raw})
                if mock.verify_response is not None:
                    return self._send(*mock.verify_response)
                try:
                    token = json.loads(raw)["token"]
                except (ValueError, KeyError, TypeError):
                    return self._send(400, {"code": 400, "message": "bad body"})
                self._send(*mock._verify(token))

        return Handler
