"""onepw account endpoints (spec accounts.md §4.4, §4.7, §6, §7): create,
login, keys, status, session status/destroy, destroy, password change and
reset. The pages stretch the password; the server sees only `authPW`.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from starlette.routing import Route

from syncstorage.accounts import crypto, errors, fields, store
from syncstorage.accounts.context import LOOKUP_PER_ADDRESS, AccountsContext, Authenticated
from syncstorage.accounts.http import Call

MAX_INVITE = 128


def routes(ctx: AccountsContext) -> list[Route]:
    return [
        ctx.route("POST", "/v1/account/create", create),
        ctx.route("POST", "/v1/account/login", login),
        ctx.route("GET", "/v1/account/keys", keys, signed_by=store.KEY_FETCH),
        ctx.route("GET", "/v1/account/status", status_by_uid),
        ctx.route("POST", "/v1/account/status", status_by_email),
        ctx.route("POST", "/v1/account/destroy", destroy),
        ctx.route("GET", "/v1/session/status", session_status, signed_by=store.SESSION),
        ctx.route("POST", "/v1/session/destroy", session_destroy, signed_by=store.SESSION),
        ctx.route("GET", "/v1/recovery_email/status", recovery_email_status, signed_by=store.SESSION),
        ctx.route("POST", "/v1/recovery_email/resend_code", resend_code, signed_by=store.SESSION),
        ctx.route("POST", "/v1/password/change/start", password_change_start),
        ctx.route("POST", "/v1/password/change/finish", password_change_finish, signed_by=store.PASSWORD_CHANGE),
        ctx.route("POST", "/v1/account/reset", reset, signed_by=store.ACCOUNT_RESET),
    ]


def _wants_keys(call: Call) -> bool:
    return call.query.get("keys") == "true"


def _signed_in(
    ctx: AccountsContext, conn: sa.Connection, call: Call, account: sa.Row, wrap_kb: bytes | None
) -> dict[str, Any]:
    """A new session (and with keys=true a key-fetch token carrying kA ‖
    wrapKb): the answer of create, login, change and reset."""
    now = ctx.now_ms()
    session = store.issue_token(conn, store.SESSION, account.uid, now, user_agent=call.user_agent)
    answer: dict[str, Any] = {
        "uid": account.uid,
        "sessionToken": session.seed_hex,
        "authAt": now // 1000,
        "verified": True,
    }
    if wrap_kb is not None and _wants_keys(call):
        answer["keyFetchToken"] = _key_fetch_token(ctx, conn, account, wrap_kb, now)
    return answer


def _key_fetch_token(ctx: AccountsContext, conn: sa.Connection, account: sa.Row, wrap_kb: bytes, now: int) -> str:
    return store.issue_token(
        conn, store.KEY_FETCH, account.uid, now,
        expires_at=now + ctx.settings.accounts_key_fetch_ttl * 1000,
        keys=(bytes.fromhex(account.ka), wrap_kb),
    ).seed_hex


def _unwrap(account: sa.Row, verifier: crypto.Verifier) -> bytes:
    return crypto.xor(bytes.fromhex(account.wrap_wrap_kb), verifier.wrapwrap_key)


# --- create and login (§4.4) ---


def create(ctx: AccountsContext, call: Call) -> dict[str, Any]:
    body = call.json()
    email = fields.email(body)
    auth_pw = fields.hex_bytes(body, "authPW")
    invite = fields.text(body, "invite", MAX_INVITE, required=False)
    ctx.limit_password_attempt(call, email)
    policy = ctx.settings.accounts_signup
    if policy == "closed":
        raise errors.request_blocked("sign-up is closed")
    if policy == "invite" and not invite:
        raise errors.request_blocked("sign-up needs an invitation")
    with ctx.engine.begin() as conn:
        existing = store.find_account(conn, email=email)
    if existing is not None:
        raise errors.account_exists(existing.email)
    verifier = ctx.stretch(auth_pw, crypto.new_seed())
    with ctx.engine.begin() as conn:
        if policy == "invite" and not store.use_invite(conn, invite, email, ctx.now_ms()):
            raise errors.request_blocked("unknown, used or expired invitation")
        if store.find_account(conn, email=email) is not None:
            raise errors.account_exists(email)
        try:
            with conn.begin_nested():
                uid = store.insert_account(conn, email, verifier, ctx.now_ms())
        except sa.exc.IntegrityError:
            raise errors.account_exists(email) from None  # created at the same moment
        account = _current(conn, uid)
        return _signed_in(ctx, conn, call, account, _unwrap(account, verifier))


def _password_proof(ctx: AccountsContext, call: Call, password_field: str = "authPW") -> tuple[sa.Row, crypto.Verifier]:
    """The account named by the body's `email` and its verifier, once the
    body's `authPW` (or `password_field`) proved the password: 102 unknown
    account, 120 another case of the address, 103 wrong password, 114
    rate limited (checked first, before any lookup or scrypt)."""
    body = call.json()
    email = fields.email(body)
    auth_pw = fields.hex_bytes(body, password_field)
    ctx.limit_password_attempt(call, email)
    with ctx.engine.begin() as conn:
        account = store.find_account(conn, email=email)
    if account is None:
        raise errors.unknown_account(email)
    if account.email != email:
        # v1 stretching salts with the address as typed at creation (§4.4)
        raise errors.incorrect_email_case(account.email)
    verifier = ctx.check_password(account, auth_pw)
    if account.disabled_at is not None:  # told only to whoever knows the password
        raise errors.account_disabled()
    return account, verifier


def login(ctx: AccountsContext, call: Call) -> dict[str, Any]:
    account, verifier = _password_proof(ctx, call)
    with ctx.engine.begin() as conn:
        current = store.find_account(conn, uid=account.uid)
        if current is None or current.verify_hash != verifier.verify_hash.hex():
            raise errors.incorrect_password(account.email)  # changed meanwhile
        return _signed_in(ctx, conn, call, current, _unwrap(current, verifier))


# --- keys (§4.7) ---


def keys(ctx: AccountsContext, call: Call) -> dict[str, Any]:
    with ctx.authenticated(call, store.KEY_FETCH) as (conn, auth):
        if not store.delete_token(conn, auth.token.token_id):  # single use (§4.7)
            raise errors.invalid_auth_token("key-fetch token used by another request meanwhile")
    return {"bundle": auth.token.key_bundle}


# --- status and sessions (§6, §6.3) ---


def status_by_uid(ctx: AccountsContext, call: Call) -> dict[str, Any]:
    uid = call.query.get("uid", "")
    if not fields.is_hex(uid, 32):
        raise errors.invalid_parameter("uid")
    ctx.limit((f"lookup-addr:{call.client_address}", LOOKUP_PER_ADDRESS))
    with ctx.engine.begin() as conn:
        return {"exists": store.find_account(conn, uid=uid.lower()) is not None}


def status_by_email(ctx: AccountsContext, call: Call) -> dict[str, Any]:
    email = fields.email(call.json())
    ctx.limit((f"lookup-addr:{call.client_address}", LOOKUP_PER_ADDRESS))
    with ctx.engine.begin() as conn:
        return {"exists": store.find_account(conn, email=email) is not None}


def session_status(ctx: AccountsContext, call: Call) -> dict[str, Any]:
    with ctx.session(call) as (_conn, auth):
        return {"state": "verified" if auth.token.verified else "unverified", "uid": auth.account.uid}


def session_destroy(ctx: AccountsContext, call: Call) -> dict[str, Any]:
    with ctx.session(call) as (conn, auth):
        store.delete_session(conn, auth.token.token_id)
    return {}


def recovery_email_status(ctx: AccountsContext, call: Call) -> dict[str, Any]:
    with ctx.session(call) as (_conn, auth):
        verified = bool(auth.account.email_verified)
        return {
            "email": auth.account.email,
            "verified": verified and bool(auth.token.verified),
            "sessionVerified": bool(auth.token.verified),
            "emailVerified": verified,
        }


def resend_code(ctx: AccountsContext, call: Call) -> dict[str, Any]:
    """Firefox offers "resend" for an unverified account; accounts here are
    verified when created, so there is nothing to send."""
    return {}


def destroy(ctx: AccountsContext, call: Call) -> dict[str, Any]:
    """§7.4: the password proves it; a session is not needed."""
    account, _verifier = _password_proof(ctx, call)
    with ctx.engine.begin() as conn:
        store.delete_account(conn, account.uid)
    if ctx.account_deleted is not None:
        ctx.account_deleted(account.uid)  # its synced data (app.py)
    return {}


# --- password change (§7.1) and reset (§7.2) ---


def password_change_start(ctx: AccountsContext, call: Call) -> dict[str, Any]:
    account, verifier = _password_proof(ctx, call, "oldAuthPW")
    now = ctx.now_ms()
    with ctx.engine.begin() as conn:
        change = store.issue_token(
            conn, store.PASSWORD_CHANGE, account.uid, now,
            expires_at=now + ctx.settings.accounts_key_fetch_ttl * 1000,
        )
        return {
            "keyFetchToken": _key_fetch_token(ctx, conn, account, _unwrap(account, verifier), now),
            "passwordChangeToken": change.seed_hex,
        }


def password_change_finish(ctx: AccountsContext, call: Call) -> dict[str, Any]:
    """New verifier for the same kB (the page re-wraps it); every other
    session, device, refresh token and code goes. The session named in
    `sessionToken` (its token id) hands its device to the new session."""
    auth = _holder(ctx, call, store.PASSWORD_CHANGE)
    body = call.json()
    auth_pw = fields.hex_bytes(body, "authPW")
    wrap_kb = fields.hex_bytes(body, "wrapKb")
    keep = fields.text(body, "sessionToken", 64, required=False)
    if keep is not None and not fields.is_hex(keep, 64):
        raise errors.invalid_parameter("sessionToken")
    verifier = ctx.stretch(auth_pw, crypto.new_seed())
    with ctx.engine.begin() as conn:
        account = _spend(conn, auth)
        store.set_password(conn, account, verifier, wrap_kb, ctx.now_ms(), keys_changed=False)
        kept = keep.lower() if keep else None
        kept_session = store.find_token(conn, kept) if kept else None
        if kept_session is None or kept_session.uid != account.uid or kept_session.kind != store.SESSION:
            kept = None
        store.revoke_everything(conn, account.uid, keep_session=kept)
        answer = _signed_in(ctx, conn, call, _current(conn, account.uid), wrap_kb)
        if kept is not None:
            new_session = crypto.token_keys(bytes.fromhex(answer["sessionToken"]), store.SESSION).token_id
            store.move_device(conn, kept, new_session)
            store.delete_token(conn, kept)
        return answer


def _holder(ctx: AccountsContext, call: Call, kind: str) -> Authenticated:
    """The token that signed the request (checked by the route before the
    handler ran, so no password is stretched for a caller without one)."""
    with ctx.authenticated(call, kind) as (_conn, auth):
        return auth


def _spend(conn: sa.Connection, auth: Authenticated) -> sa.Row:
    """Use up a single-use token checked by `_holder`; its account."""
    if not store.delete_token(conn, auth.token.token_id):
        raise errors.invalid_auth_token("token used by another request meanwhile")
    return _current(conn, auth.account.uid)


def _current(conn: sa.Connection, uid: str) -> sa.Row:
    account = store.find_account(conn, uid=uid)
    if account is None:
        raise errors.invalid_auth_token("the account is gone")
    return account


def reset(ctx: AccountsContext, call: Call) -> dict[str, Any]:
    """A new password and a new kB (unless the page supplies wrapKb): every
    scoped key changes, so Firefox starts a fresh sync (§7.2)."""
    auth = _holder(ctx, call, store.ACCOUNT_RESET)
    body = call.json()
    auth_pw = fields.hex_bytes(body, "authPW")
    wrap_kb = fields.hex_bytes(body, "wrapKb") if "wrapKb" in body else crypto.new_seed()
    wants_session = fields.flag(body, "sessionToken", default=True)
    verifier = ctx.stretch(auth_pw, crypto.new_seed())
    with ctx.engine.begin() as conn:
        account = _spend(conn, auth)
        store.revoke_everything(conn, account.uid)
        store.set_password(conn, account, verifier, wrap_kb, ctx.now_ms(), keys_changed=True)
        if not wants_session:
            return {"uid": account.uid}
        return _signed_in(ctx, conn, call, _current(conn, account.uid), wrap_kb)
