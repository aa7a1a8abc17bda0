"""A stand-in Firefox Accounts OAuth server on a loopback port, for tests.

A real HTTP server in a thread: it holds generated RSA keys, publishes them
at /v1/jwks, signs real RS256 JWT access tokens, and answers /v1/verify for
both its JWTs and opaque (non-JWT) tokens, as the accounts server does.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

SYNC_SCOPE = "https://identity.mozilla.com/apps/oldsync"


@cache
def _rsa_key(index: int) -> rsa.RSAPrivateKey:
    # Key generation is slow-ish; tests reuse a small pool.
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def unused_port() -> int:
    """A loopback port nothing listens on (for "accounts server down")."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def public_jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    jwk = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {**jwk, "kid": kid, "alg": "RS256", "use": "sig"}


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
            "client_id": "5882386c6d801776",
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
            "client_id": "5882386c6d801776",
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
                    return self._send(404, {"code": 404})
                mock.jwks_requests += 1
                keys = mock.jwks() if mock.published_jwks is None else mock.published_jwks
                self._send(mock.jwks_status, {"keys": keys})

            def do_POST(self):
                time.sleep(mock.delay)
                # Like minimal accounts servers: read exactly Content-Length bytes.
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                mock.verify_requests.append({"headers": dict(self.headers), "body": raw})
                if self.path != "/v1/verify":
                    return self._send(404, {"code": 404})
                if mock.verify_response is not None:
                    return self._send(*mock.verify_response)
                try:
                    token = json.loads(raw)["token"]
                except (ValueError, KeyError, TypeError):
                    return self._send(400, {"code": 400, "message": "bad body"})
                self._send(*mock._verify(token))

        return Handler
