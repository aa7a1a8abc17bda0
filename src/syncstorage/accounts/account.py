"""onepw account endpoints (spec accounts.md §4.4, §4.7, §6, §7): create,
login, keys, status, session status/destroy, destroy, password change and
reset. The pages stretch the password; the server sees only `authPW`.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from starlette.routing import Route

from syncstorage.accounts import confirm, crypto, errors, fields, store
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
        ctx.route("GET", "/v1/session/status", session_status, signed_by=store.SESSION, unconfirmed_ok=True),
        ctx.route("POST", "/v1/session/destroy", session_destroy, signed_by=store.SESSION, unconfirmed_ok=True),
        ctx.route("GET", "/v1/recovery_email/status", recovery_email_status, signed_by=store.SESSION,
                  unconfirmed_ok=True),
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
    answer, _code = _new_session(ctx, conn, call, account, wrap_kb)
    return answer


def _new_session(
    ctx: AccountsContext, conn: sa.Connection, call: Call, account: sa.Row, wrap_kb: bytes | None,
    *, confirm_by_mail: str | None = None,
) -> tuple[dict[str, Any], str | None]:
    """`_signed_in`; with `confirm_by_mail` ("signup" or "login") and mail
    on, the session and key-fetch token wait for a code (confirm.py): the
    answer says so, and the code is returned for the caller to mail once
    the transaction is committed."""
    now = ctx.now_ms()
    confirming = confirm_by_mail is not None and ctx.mailer is not None
    session = store.issue_token(conn, store.SESSION, account.uid, now, user_agent=call.user_agent, verified=not confirming)
    answer: dict[str, Any] = {
        "uid": account.uid,
        "sessionToken": session.seed_hex,
        "authAt": now // 1000,
        "verified": not confirming,
    }
    key_fetch = None
    if wrap_kb is not None and _wants_keys(call):
        key_fetch = _key_fetch_token(ctx, conn, account, wrap_kb, now, verified=not confirming)
        answer["keyFetchToken"] = key_fetch.seed_hex
    if not confirming:
        return answer, None
    answer.update(verificationMethod="email-otp", verificationReason=confirm_by_mail)
    code = confirm.start(ctx, conn, account.uid, session.token_id, key_fetch.token_id if key_fetch else None)
    return answer, code


def _mail_code(ctx: AccountsContext, email: str, answer: dict[str, Any], code: str | None, reason: str) -> None:
    """Mail the code of a new session; when the mail fails, the session is
    withdrawn (422 errno 151) and the account stays: signing in again mails
    a new code."""
    if code is None:
        return
    try:
        confirm.mail_code(ctx, email, code, reason)
    except errors.ApiError:
        with ctx.engine.begin() as conn:
            for seed, kind in ((answer["sessionToken"], store.SESSION), (answer.get("keyFetchToken"), store.KEY_FETCH)):
                if seed:
                    store.delete_session(conn, crypto.token_keys(bytes.fromhex(seed), kind).token_id)
        raise


def _key_fetch_token(
    ctx: AccountsContext, conn: sa.Connection, account: sa.Row, wrap_kb: bytes, now: int, *, verified: bool = True
) -> store.IssuedToken:
    return store.issue_token(
        conn, store.KEY_FETCH, account.uid, now,
        expires_at=now + ctx.settings.accounts_key_fetch_ttl * 1000,
        keys=(bytes.fromhex(account.ka), wrap_kb), verified=verified,
    )


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
                uid = store.insert_account(conn, email, verifier, ctx.now_ms(), verified=ctx.mailer is None)
        except sa.exc.IntegrityError:
            raise errors.account_exists(email) from None  # created at the same moment
        account = _current(conn, uid)
        answer, code = _new_session(ctx, conn, call, account, _unwrap(account, verifier), confirm_by_mail="signup")
    _mail_code(ctx, account.email, answer, code, "signup")
    return answer


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
        answer, code = _new_session(ctx, conn, call, current, _unwrap(current, verifier), confirm_by_mail="login")
    _mail_code(ctx, current.email, answer, code, "login")
    return answer


# --- keys (§4.7) ---


def keys(ctx: AccountsContext, call: Call) -> dict[str, Any]:
    with ctx.authenticated(call, store.KEY_FETCH) as (conn, auth):
        if not auth.token.verified:  # kept: it works once its session is confirmed (confirm.py)
            raise errors.unverified_account()
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
    if ctx.mailer is not None:
        _confirmed_session_of(ctx, call, account.uid)
    now = ctx.now_ms()
    with ctx.engine.begin() as conn:
        change = store.issue_token(
            conn, store.PASSWORD_CHANGE, account.uid, now,
            expires_at=now + ctx.settings.accounts_key_fetch_ttl * 1000,
        )
        return {
            "keyFetchToken": _key_fetch_token(ctx, conn, account, _unwrap(account, verifier), now).seed_hex,
            "passwordChangeToken": change.seed_hex,
        }


def _confirmed_session_of(ctx: AccountsContext, call: Call, uid: str) -> None:
    """With mail on, the password alone must not give the keys a new sign-in
    gets only with a mailed code: change/start then needs the Hawk
    signature of a confirmed session of the account (the settings page
    signs with Firefox's session), else 400 errno 138."""
    if not call.signed.authorization:
        raise errors.unverified_session()
    with ctx.session(call) as (_conn, auth):  # an unconfirmed one is refused 138 there
        if auth.account.uid != uid:
            raise errors.unverified_session()


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


def _salted_with_stored_email(body: dict[str, Any], account: sa.Row) -> None:
    """The page stretched the new password with the `email` it sends; sign-in
    salts with the address as created (§4.4), so another letter case is
    refused with errno 120 and that address (the page retries with it, as it
    does for login), and another address with 107, before the reset token
    is spent."""
    if "email" not in body:
        return  # a client that does not say (older pages): its own care
    email = fields.email(body)
    if email != account.email:
        if store.normalize_email(email) != account.normal_email:
            raise errors.invalid_parameter("email", "not the address of the reset code's account")
        raise errors.incorrect_email_case(account.email)


def reset(ctx: AccountsContext, call: Call) -> dict[str, Any]:
    """A new password and a new kB (unless the page supplies wrapKb): every
    scoped key changes, so Firefox starts a fresh sync (§7.2)."""
    auth = _holder(ctx, call, store.ACCOUNT_RESET)
    body = call.json()
    _salted_with_stored_email(body, auth.account)
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
