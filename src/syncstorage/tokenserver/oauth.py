"""Verification of Firefox Accounts OAuth access tokens (auth-and-tokens §7).

Locally as RS256 JWTs against configured JWKs or the accounts server's JWKS
(fetched, cached, refetched early on an unknown key id), with the remote
`POST /v1/verify` endpoint as the fallback for bearer values that are not
JWTs and for when no usable key is known.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
from jwt.utils import base64url_decode

from syncstorage.jwk import parse_jwk

log = logging.getLogger(__name__)

SYNC_SCOPE = "https://identity.mozilla.com/apps/oldsync"
JWT_LEEWAY_SECONDS = 60
JWKS_CACHE_SECONDS = 3600  # §7.1: cache fetched keys (suggested 1 hour)
JWKS_REFETCH_MIN_SECONDS = 60  # §7.1: refetch on an unknown kid at most once a minute

_B64URL = re.compile(r"[A-Za-z0-9_-]*")


class InvalidToken(Exception):
    """The OAuth token was rejected: 401 invalid-credentials (§7.3)."""


class AccountsUnavailable(Exception):
    """The accounts server could not be reached: 503 (§7.2)."""


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    fxa_uid: str
    generation: int | None


def oauth_base_url(configured: str) -> str:
    """§7: strip a trailing `/`, then a trailing `/v1`."""
    base = configured.rstrip("/")
    return base[: -len("/v1")] if base.endswith("/v1") else base


def _decoded_json_object(part: str) -> bool:
    if not _B64URL.fullmatch(part):
        return False
    try:
        return isinstance(json.loads(base64url_decode(part)), dict)
    except ValueError:
        return False


def looks_like_jwt(token: str) -> bool:
    """True for a compact JWS whose header and claims decode to JSON objects.

    Anything else (opaque tokens may contain dots and spaces) goes to remote
    verification, never straight to 401 (§7.2).
    """
    parts = token.split(".")
    return len(parts) == 3 and _decoded_json_object(parts[0]) and _decoded_json_object(parts[1])


def _has_sync_scope(scopes: list[str]) -> bool:
    return SYNC_SCOPE in scopes


def _typ_ok(typ: Any) -> bool:
    # §7.1: case-insensitive, an omitted "application/" prefix is implied.
    if not isinstance(typ, str):
        return False
    typ = typ.lower()
    return typ in ("at+jwt", "application/at+jwt")


def _generation(value: Any) -> int | None:
    if value is None:
        return None
    # bool is an int in Python; a JSON true is not a generation.
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidToken("generation is not an integer")
    return value


# A verifier of another accounts server in this process (the built-in one,
# wired by syncstorage.app): the token's uid, scopes and generation, None when
# the token is not its own, InvalidToken when it is but is not valid.
LocalVerifier = Callable[[str], "LocalToken | None"]


@dataclass(frozen=True, slots=True)
class LocalToken:
    fxa_uid: str
    scopes: list[str]
    generation: int | None


class OAuthVerifier:
    """Turns a bearer value into the FxA uid and generation, or raises."""

    def __init__(
        self,
        server_url: str,
        timeout: float,
        configured_jwks: Sequence[dict[str, Any]] = (),
        local: LocalVerifier | None = None,
    ) -> None:
        self._local = local
        base = oauth_base_url(server_url)
        self._jwks_url = f"{base}/v1/jwks"
        self._verify_url = f"{base}/v1/verify"
        self._http = httpx.Client(timeout=timeout)
        self._configured = bool(configured_jwks)
        self._keys: list[jwt.PyJWK] = []
        for jwk in configured_jwks:
            key = parse_jwk(jwk)
            if key is None:
                raise ValueError(f"configured FxA JWK is not a usable RSA public key: {jwk!r}")
            self._keys.append(key)
        self._fetched_at: float | None = None  # monotonic time of the last JWKS fetch
        self._early_fetch_at: float | None = None  # ... and of the last one before expiry
        self._fetch_lock = threading.Lock()

    def close(self) -> None:
        self._http.close()

    def verify(self, bearer: str) -> VerifiedToken:
        if not bearer:
            raise InvalidToken("empty bearer value")
        if self._local is not None:
            local = self._local(bearer)
            if local is not None:
                if not _has_sync_scope(local.scopes):
                    raise InvalidToken("sync scope missing")
                return VerifiedToken(local.fxa_uid, local.generation)
        if looks_like_jwt(bearer):
            try:
                keys = self._keys_for(bearer)
            except jwt.PyJWTError as exc:  # e.g. a header kid that is not a string
                raise InvalidToken(str(exc)) from exc
            if keys:
                return self._verify_jwt(bearer, keys)
        return self._verify_remote(bearer)

    # --- local JWT verification (§7.1) ---

    def _keys_for(self, token: str) -> list[jwt.PyJWK]:
        """The keys to try: the one matching `kid` if any, else all."""
        kid = jwt.get_unverified_header(token).get("kid")
        if not self._configured:
            self._refresh_jwks(wanted_kid=kid)
        matching = [k for k in self._keys if kid is not None and k.key_id == kid]
        return matching or list(self._keys)

    def _refresh_jwks(self, wanted_kid: Any) -> None:
        now = time.monotonic()
        with self._fetch_lock:
            if self._fetched_at is not None and now - self._fetched_at < JWKS_CACHE_SECONDS:
                known = wanted_kid is None or any(k.key_id == wanted_kid for k in self._keys)
                if self._keys and known:
                    return
                # An unknown kid (a key rotation) or no usable key (a failed
                # fetch): fetch early, but not more than once a minute.
                if (
                    self._early_fetch_at is not None
                    and now - self._early_fetch_at < JWKS_REFETCH_MIN_SECONDS
                ):
                    return
                self._early_fetch_at = now
            self._fetched_at = now
            try:
                response = self._http.get(self._jwks_url)
                response.raise_for_status()
                listed = response.json().get("keys", [])
            except (httpx.HTTPError, ValueError, AttributeError) as exc:
                # Keep what we had; with no usable key the remote fallback runs.
                log.warning("fetching FxA JWKS from %s failed: %s", self._jwks_url, exc)
                return
            if not isinstance(listed, list):
                listed = []
            self._keys = [key for key in map(parse_jwk, listed) if key is not None]
            if not self._keys:
                log.warning("FxA JWKS at %s has no usable RSA key", self._jwks_url)

    def _verify_jwt(self, token: str, keys: list[jwt.PyJWK]) -> VerifiedToken:
        header = jwt.get_unverified_header(token)
        if header.get("alg") != "RS256" or not _typ_ok(header.get("typ")):
            raise InvalidToken("not an RS256 at+jwt token")
        claims = None
        for key in keys:
            try:
                claims = jwt.decode(
                    token,
                    key.key,
                    algorithms=["RS256"],
                    leeway=JWT_LEEWAY_SECONDS,
                    # §7.1: exp is enforced; aud and iss are not checked.
                    options={
                        "require": ["exp", "sub"],
                        "verify_aud": False,
                        "verify_iss": False,
                        "verify_iat": False,
                        "verify_nbf": False,
                    },
                )
                break
            except jwt.InvalidSignatureError:
                continue
            except jwt.ExpiredSignatureError as exc:
                # PyJWT says "Signature has expired"; the log says what it is.
                raise InvalidToken("expired") from exc
            except jwt.InvalidTokenError as exc:
                raise InvalidToken(str(exc)) from exc
        if claims is None:
            raise InvalidToken("no key verifies the signature")
        sub, scope = claims.get("sub"), claims.get("scope")
        if not isinstance(sub, str) or not sub or not isinstance(scope, str):
            raise InvalidToken("sub or scope missing")
        if not _has_sync_scope(re.split(r"[\s,]+", scope)):
            raise InvalidToken("sync scope missing")
        return VerifiedToken(sub, _generation(claims.get("fxa-generation")))

    # --- remote verification (§7.2) ---

    def _verify_remote(self, token: str) -> VerifiedToken:
        # json= would also work; content= makes the Content-Length explicit.
        body = json.dumps({"token": token}).encode()
        try:
            response = self._http.post(
                self._verify_url, content=body, headers={"Content-Type": "application/json"}
            )
        except httpx.TransportError as exc:
            log.error("FxA verify at %s unreachable: %s", self._verify_url, exc)
            raise AccountsUnavailable(str(exc)) from exc
        if not response.is_success:
            raise InvalidToken(f"remote verify answered {response.status_code}")
        try:
            result = response.json()
        except ValueError as exc:
            raise InvalidToken("remote verify body is not JSON") from exc
        if not isinstance(result, dict):
            raise InvalidToken("remote verify body is not an object")
        user, scope = result.get("user"), result.get("scope")
        if isinstance(scope, str):
            scope = re.split(r"[\s,]+", scope)
        if not isinstance(user, str) or not user or not isinstance(scope, list):
            raise InvalidToken("remote verify body lacks user or scope")
        if not _has_sync_scope(scope):
            raise InvalidToken("sync scope missing")
        return VerifiedToken(user, _generation(result.get("generation")))
