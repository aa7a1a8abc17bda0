"""OAuth access tokens: RS256 JWTs (spec accounts.md §5.4), verified here
for /v1/verify, /v1/introspect, the profile endpoint and, in-process, the
tokenserver. A token is valid while its signature and `exp` hold, its `jti`
is not revoked (/v1/oauth/destroy) and its account exists and is not
disabled (one read of the account's row by its primary key)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import jwt
import sqlalchemy as sa

from syncstorage.accounts import store
from syncstorage.accounts.signing import SigningKey

LEEWAY_SECONDS = 60


class InvalidAccessToken(Exception):
    """Signed by us, but expired, revoked, malformed or of a deleted account."""


@dataclass(frozen=True, slots=True)
class AccessClaims:
    uid: str
    client_id: str
    scopes: list[str]
    generation: int
    profile_changed_at: int | None
    jti: str
    issued_at: int
    expires_at: int


def issue(
    key: SigningKey, issuer: str, account: sa.Row, client_id: str, scopes: list[str], now: int, ttl: int
) -> str:
    claims = {
        "iss": issuer,
        "aud": client_id,
        "client_id": client_id,
        "sub": account.uid,
        "scope": " ".join(scopes),
        "iat": now,
        "exp": now + ttl,
        "jti": secrets.token_hex(32),
        "fxa-generation": account.verifier_set_at,
        "fxa-profileChangedAt": account.profile_changed_at,
    }
    return jwt.encode(claims, key.private_key, algorithm="RS256", headers={"typ": "at+jwt", "kid": key.kid})


def ours(keys: list[SigningKey], token: str) -> SigningKey | None:
    """The key that names this token's `kid`, None when it is not one of our JWTs."""
    if not isinstance(token, str) or token.count(".") != 2 or len(token) > 8192:
        return None
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except jwt.PyJWTError:
        return None
    return next((key for key in keys if key.kid == kid), None)


def verify(conn: sa.Connection, key: SigningKey, token: str, now: float) -> AccessClaims:
    try:
        claims = jwt.decode(
            token, key.private_key.public_key(), algorithms=["RS256"], leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "iat", "sub", "scope", "jti"], "verify_aud": False},
        )
    except jwt.PyJWTError as exc:
        raise InvalidAccessToken(str(exc)) from None
    uid, jti, generation = claims.get("sub"), claims.get("jti"), claims.get("fxa-generation")
    if not isinstance(uid, str) or not isinstance(jti, str) or type(generation) is not int:
        raise InvalidAccessToken("malformed claims")
    if store.is_revoked(conn, jti):
        raise InvalidAccessToken("revoked")
    account = store.find_account(conn, uid=uid)
    if account is None:
        raise InvalidAccessToken("the account is gone")
    if account.disabled_at is not None:
        raise InvalidAccessToken("the account is disabled")
    return AccessClaims(
        uid=uid,
        client_id=str(claims.get("client_id", "")),
        scopes=str(claims["scope"]).split(),
        generation=generation,
        profile_changed_at=claims.get("fxa-profileChangedAt"),
        jti=jti,
        issued_at=int(claims["iat"]),
        expires_at=int(claims["exp"]),
    )
