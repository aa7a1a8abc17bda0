"""The profile server's one endpoint Firefox reads (spec accounts.md §6.2):
`GET /profile/v1/profile` with a `profile`-scope bearer token."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
from starlette.responses import Response
from starlette.routing import Route

from syncstorage.accounts import access_tokens, errors, store
from syncstorage.accounts.clients import PROFILE_SCOPE
from syncstorage.accounts.context import AccountsContext
from syncstorage.accounts.http import Call
from syncstorage.accounts.oauth import verify_bearer


def routes(ctx: AccountsContext) -> list[Route]:
    return [ctx.route("GET", "/profile/v1/profile", profile)]


def _unauthorized(reason: str) -> errors.ApiError:
    # 401 makes Firefox drop the token, fetch a new one and retry once (§6.2);
    # errno 110 is what FxA's profile server answers.
    return errors.ApiError(401, 110, "Unauthorized", reason=reason)


def profile(ctx: AccountsContext, call: Call) -> Any:
    scheme, _, bearer = (call.signed.authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not bearer.strip():
        raise _unauthorized("no bearer token")
    try:
        claims = verify_bearer(ctx, bearer.strip())
    except access_tokens.InvalidAccessToken as exc:
        raise _unauthorized(str(exc)) from None
    if not any(scope == PROFILE_SCOPE or scope.startswith(PROFILE_SCOPE + ":") for scope in claims.scopes):
        raise _unauthorized("token lacks the profile scope")
    with ctx.engine.begin() as conn:
        account = store.find_account(conn, uid=claims.uid)
    if account is None:
        raise _unauthorized("the account is gone")
    body: dict[str, Any] = {
        "uid": account.uid,
        "email": account.email,
        "locale": account.locale,
        "displayName": account.display_name,
        "avatar": None,
        "avatarDefault": True,
        "amrValues": ["pwd", "email"],
        "twoFactorAuthentication": False,
        "subscriptions": [],
    }
    encoded = orjson.dumps(body)
    etag = '"' + hashlib.sha256(encoded).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
    if call.request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(encoded, media_type="application/json", headers=headers)
