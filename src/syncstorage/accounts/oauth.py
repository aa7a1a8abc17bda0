"""OAuth endpoints (spec accounts.md §5): authorization codes with PKCE and
the page's `keys_jwe` (opaque here: it is encrypted to Firefox's key), the
token grants, revocation, JWKS, verification and scoped-key metadata."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from typing import Any

import sqlalchemy as sa
from starlette.routing import Route

from syncstorage.accounts import access_tokens, crypto, errors, fields, store
from syncstorage.accounts.clients import ALLOWED_SCOPES, CLIENTS, KEY_BEARING_SCOPES
from syncstorage.accounts.context import AccountsContext
from syncstorage.accounts.http import Call

REDIRECT = "urn:ietf:wg:oauth:2.0:oob:oauth-redirect-webchannel"
_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")
_VERIFIER = re.compile(r"[A-Za-z0-9._~-]{43,128}")
_JWE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
MAX_KEYS_JWE = 32 * 1024
MAX_SCOPE = 1024
MAX_STATE = 256
MIN_EXPIRES_IN = 120  # Firefox caches a token until expires_in - 60 s (§8.3)


def routes(ctx: AccountsContext) -> list[Route]:
    return [
        ctx.route("POST", "/v1/oauth/authorization", authorization, signed_by=store.SESSION),
        ctx.route("POST", "/v1/oauth/token", token),
        ctx.route("POST", "/v1/oauth/destroy", destroy),
        ctx.route("GET", "/v1/jwks", jwks),
        ctx.route("POST", "/v1/verify", verify),
        ctx.route("POST", "/v1/introspect", introspect),
        ctx.route("POST", "/v1/account/scoped-key-data", scoped_key_data, signed_by=store.SESSION),
    ]


def _client(body: dict[str, Any]) -> str:
    client_id = fields.text(body, "client_id", 64)
    if client_id not in CLIENTS:
        raise errors.unknown_client(client_id)
    return client_id


def _scopes(body: dict[str, Any], name: str = "scope") -> list[str]:
    scopes = sorted(set(fields.text(body, name, MAX_SCOPE).split()))
    refused = [scope for scope in scopes if scope not in ALLOWED_SCOPES]
    if refused or not scopes:
        raise errors.scopes_not_allowed(refused)
    return scopes


def _needs_keys(scopes: list[str]) -> bool:
    return any(scope in KEY_BEARING_SCOPES for scope in scopes)


# --- authorization (§5.2) ---


def authorization(ctx: AccountsContext, call: Call) -> dict[str, Any]:
    body = call.json()
    client_id = _client(body)
    if body.get("response_type", "code") != "code":
        raise errors.invalid_response_type()
    state = fields.text(body, "state", MAX_STATE)
    scopes = _scopes(body)
    access_type = body.get("access_type", "online")
    if access_type not in ("online", "offline"):
        raise errors.invalid_parameter("access_type")
    challenge = body.get("code_challenge")
    if body.get("code_challenge_method") != "S256" or not isinstance(challenge, str):
        raise errors.pkce_required()
    if not _CHALLENGE.fullmatch(challenge):
        raise errors.invalid_parameter("code_challenge")
    keys_jwe = fields.text(body, "keys_jwe", MAX_KEYS_JWE, required=False)
    if keys_jwe is not None and not _JWE.fullmatch(keys_jwe):
        raise errors.invalid_parameter("keys_jwe", "not a compact JWE")
    if _needs_keys(scopes) and keys_jwe is None:
        # without it Firefox signs in without keys and never syncs
        raise errors.invalid_parameter("keys_jwe", "the sync scope needs keys_jwe")
    fields.text(body, "redirect_uri", 2048, required=False)
    code = secrets.token_hex(32)
    with ctx.session(call) as (conn, auth):
        store.insert_code(
            conn, code, client_id=client_id, uid=auth.account.uid, session_token_id=auth.token.token_id,
            scope=" ".join(scopes), access_type=access_type, code_challenge=challenge, keys_jwe=keys_jwe,
            auth_at=auth.token.auth_at, created_at=ctx.now_ms(),
        )
    return {"code": code, "state": state, "redirect": f"{REDIRECT}?code={code}&state={state}"}


# --- token (§5.3) ---


def token(ctx: AccountsContext, call: Call) -> dict[str, Any]:
    body = call.json()
    grant = body.get("grant_type")
    client_id = _client(body)
    if grant == "authorization_code":
        return _code_grant(ctx, call, body, client_id)
    if grant == "fxa-credentials":
        return _session_grant(ctx, call, body, client_id)
    if grant == "refresh_token":
        return _refresh_grant(ctx, body, client_id)
    raise errors.invalid_parameter("grant_type")


def _ttl(ctx: AccountsContext, body: dict[str, Any]) -> int:
    longest = ctx.settings.accounts_access_token_ttl
    if body.get("ttl") is None:
        return longest
    return max(MIN_EXPIRES_IN, min(fields.integer(body["ttl"], "ttl", minimum=1), longest))


def _grant(
    ctx: AccountsContext, conn: sa.Connection, account: sa.Row, client_id: str, scopes: list[str],
    ttl: int, auth_at: int, *, offline: bool,
) -> dict[str, Any]:
    now = int(ctx.clock.time())
    answer: dict[str, Any] = {
        "access_token": access_tokens.issue(ctx.keys[-1], ctx.public_url, account, client_id, scopes, now, ttl),
        "token_type": "bearer",
        "scope": " ".join(scopes),
        "expires_in": ttl,
        "auth_at": auth_at,
    }
    if offline:
        answer["refresh_token"] = store.insert_refresh_token(conn, account.uid, client_id, answer["scope"], ctx.now_ms())
    return answer


def _code_grant(ctx: AccountsContext, call: Call, body: dict[str, Any], client_id: str) -> dict[str, Any]:
    code = fields.text(body, "code", 128)
    verifier = fields.text(body, "code_verifier", 128)
    session_uid = None
    if call.signed.authorization:  # desktop signs with the session that authorized (§3.3 9b)
        with ctx.session(call) as (_conn, auth):
            session_uid = auth.account.uid
    with ctx.engine.begin() as conn:  # committed before any check: a code is tried once
        row = store.take_code(conn, code) if fields.is_hex(code, 64) else None
    if row is None:
        raise errors.unknown_code()
    with ctx.engine.begin() as conn:
        if row.client_id != client_id or (session_uid is not None and session_uid != row.uid):
            raise errors.mismatched_code()
        if row.created_at + ctx.settings.accounts_code_ttl * 1000 < ctx.now_ms():
            raise errors.expired_code()
        expected = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii", "replace")).digest())
        if not _VERIFIER.fullmatch(verifier) or not crypto.equal(expected.rstrip(b"="), row.code_challenge):
            raise errors.pkce_mismatch()
        account = store.find_account(conn, uid=row.uid)
        if account is None:
            raise errors.unknown_code()
        answer = _grant(
            ctx, conn, account, client_id, row.scope.split(), _ttl(ctx, body), row.auth_at,
            offline=row.access_type == "offline",
        )
        if row.keys_jwe is not None:
            answer["keys_jwe"] = row.keys_jwe
        return answer


def _session_grant(ctx: AccountsContext, call: Call, body: dict[str, Any], client_id: str) -> dict[str, Any]:
    scopes = _scopes(body)
    ttl = _ttl(ctx, body)
    offline = body.get("access_type") == "offline"
    with ctx.session(call) as (conn, auth):
        return _grant(ctx, conn, auth.account, client_id, scopes, ttl, auth.token.auth_at, offline=offline)


def _refresh_grant(ctx: AccountsContext, body: dict[str, Any], client_id: str) -> dict[str, Any]:
    refresh = fields.text(body, "refresh_token", 128)
    ttl = _ttl(ctx, body)
    with ctx.engine.begin() as conn:
        row = store.find_refresh_token(conn, refresh) if fields.is_hex(refresh, 64) else None
        if row is None or row.client_id != client_id:
            raise errors.unknown_refresh_token()
        granted = row.scope.split()
        scopes = _scopes(body) if body.get("scope") is not None else granted
        beyond = [scope for scope in scopes if scope not in granted]
        if beyond:
            raise errors.scopes_not_allowed(beyond)
        account = store.find_account(conn, uid=row.uid)
        if account is None or account.disabled_at is not None:
            raise errors.unknown_refresh_token()
        store.touch_refresh_token(conn, row.token_hash, ctx.now_ms())
        return _grant(ctx, conn, account, client_id, scopes, ttl, row.created_at // 1000, offline=False)


# --- revocation, keys, verification (§5.5, §5.6) ---


def destroy(ctx: AccountsContext, call: Call) -> dict[str, Any]:
    """Always 200 `{}`: Firefox destroys tokens it may have lost track of."""
    body = call.json()
    value = body.get("token") or body.get("refresh_token") or body.get("access_token")
    if not isinstance(value, str) or len(value) > 8192:
        return {}
    with ctx.engine.begin() as conn:
        if fields.is_hex(value, 64):
            store.delete_refresh_token(conn, value)
            return {}
        key = access_tokens.ours(ctx.keys, value)
        if key is not None:
            try:
                claims = access_tokens.verify(conn, key, value, ctx.clock.time())
            except access_tokens.InvalidAccessToken:
                return {}
            store.revoke_access_token(conn, claims.jti, claims.expires_at + access_tokens.LEEWAY_SECONDS)
    return {}


def jwks(ctx: AccountsContext, call: Call) -> dict[str, Any]:
    return {"keys": [key.public_jwk() for key in reversed(ctx.keys)]}


def verify_bearer(ctx: AccountsContext, value: Any) -> access_tokens.AccessClaims:
    """Our access token's claims, or InvalidAccessToken."""
    key = access_tokens.ours(ctx.keys, value)
    if key is None:
        raise access_tokens.InvalidAccessToken("not one of this server's tokens")
    with ctx.engine.begin() as conn:
        return access_tokens.verify(conn, key, value, ctx.clock.time())


def verify(ctx: AccountsContext, call: Call) -> dict[str, Any]:
    try:
        claims = verify_bearer(ctx, call.json().get("token"))
    except access_tokens.InvalidAccessToken as exc:
        error = errors.invalid_token_verify()
        error.reason = str(exc)
        raise error from None
    return {
        "user": claims.uid,
        "client_id": claims.client_id,
        "scope": claims.scopes,
        "generation": claims.generation,
        "profile_changed_at": claims.profile_changed_at,
    }


def introspect(ctx: AccountsContext, call: Call) -> dict[str, Any]:
    """RFC 7662, for mobile clients (§5.6)."""
    value = call.json().get("token")
    if isinstance(value, str) and fields.is_hex(value, 64):
        with ctx.engine.begin() as conn:
            row = store.find_refresh_token(conn, value)
        if row is None:
            return {"active": False}
        return {"active": True, "token_type": "refresh_token", "scope": row.scope,
                "client_id": row.client_id, "sub": row.uid, "iat": row.created_at // 1000}
    try:
        claims = verify_bearer(ctx, value)
    except access_tokens.InvalidAccessToken:
        return {"active": False}
    return {"active": True, "token_type": "access_token", "scope": " ".join(claims.scopes),
            "client_id": claims.client_id, "sub": claims.uid, "iat": claims.issued_at,
            "exp": claims.expires_at, "jti": claims.jti, "fxa-generation": claims.generation}


# --- scoped-key metadata (§5.7) ---


def scoped_key_data(ctx: AccountsContext, call: Call) -> dict[str, Any]:
    body = call.json()
    _client(body)
    scopes = _scopes(body)
    with ctx.session(call) as (_conn, auth):
        if auth.token.auth_at * 1000 < auth.account.keys_changed_at - 1000:
            raise errors.stale_auth()
        return {
            scope: {
                "identifier": scope,
                "keyRotationSecret": "0" * 64,
                "keyRotationTimestamp": auth.account.keys_changed_at,
            }
            for scope in scopes
            if scope in KEY_BEARING_SCOPES
        }
