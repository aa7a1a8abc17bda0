"""Confirmation by a code sent by mail (docs/accounts.md "Confirming by
e-mail"), on only when SMTP settings are given.

Then sign-up and every sign-in make an unconfirmed session (and key-fetch
token): `verified: false, verificationMethod: "email-otp"` in the answer, as
FxA does. Keys (errno 104), scoped keys and OAuth authorization (138) are
refused until the page sends the mailed code to `/v1/session/verify_code`.
Codes: CODE_DIGITS random digits, CODE_TTL_SECONDS long, stored as a salted
hash, compared in constant time, MAX_ATTEMPTS wrong tries each; a new one
by `/v1/session/resend_code` at most every RESEND_EVERY_SECONDS and
MAX_SENDS times per session.
"""

from __future__ import annotations

import secrets
from typing import Any

import sqlalchemy as sa
from starlette.routing import Route

from syncstorage.accounts import crypto, errors, fields, store
from syncstorage.accounts.context import AccountsContext
from syncstorage.accounts.http import Call
from syncstorage.accounts.mail import MailError
from syncstorage.accounts.ratelimit import Limit

CODE_DIGITS = 8
CODE_TTL_SECONDS = 10 * 60
MAX_ATTEMPTS = 5
RESEND_EVERY_SECONDS = 60
MAX_SENDS = 5
# Wrong codes per account across its sessions (each sign-in mails its owner).
CODES_PER_ACCOUNT = Limit(burst=20, per_seconds=60)


def routes(ctx: AccountsContext) -> list[Route]:
    return [
        ctx.route("POST", "/v1/session/verify_code", verify_code, signed_by=store.SESSION, unconfirmed_ok=True),
        ctx.route("POST", "/v1/session/resend_code", resend_code, signed_by=store.SESSION, unconfirmed_ok=True),
        # what Firefox's own client code calls for the same
        ctx.route("POST", "/v1/recovery_email/resend_code", resend_code, signed_by=store.SESSION,
                  unconfirmed_ok=True),
    ]


def new_code() -> str:
    return str(secrets.randbelow(10**CODE_DIGITS)).zfill(CODE_DIGITS)


def mail_code(ctx: AccountsContext, email: str, code: str, reason: str) -> None:
    """Send `code` ("signup", "login" or "resend" `reason`) to `email`, or 422 errno 151 (the reason, for the log
    line, names the SMTP failure and never the code)."""
    assert ctx.mailer is not None
    what = {"signup": "create your account", "login": "sign in"}.get(reason, "sign in or create your account")
    text = (
        f"Your confirmation code is {code}\n\n"
        f"Type it in the page where you asked to {what} on {ctx.public_url}.\n"
        f"It works for {CODE_TTL_SECONDS // 60} minutes.\n\n"
        "If that was not you, someone knows your password: change it.\n"
    )
    try:
        ctx.mailer.send(email, "Your Firefox Sync confirmation code", text)
    except MailError as exc:
        raise errors.mail_failed(f"confirmation mail not sent: {exc}") from None


def start(
    ctx: AccountsContext, conn: sa.Connection, uid: str, session_token_id: str, key_fetch_token_id: str | None
) -> str:
    """A code for a new unconfirmed session, stored in `conn`'s transaction;
    the caller mails it once that transaction is committed."""
    code = new_code()
    store.insert_confirmation(
        conn, session_token_id, uid, code, ctx.now_ms(), CODE_TTL_SECONDS * 1000, key_fetch_token_id=key_fetch_token_id,
    )
    return code


def verify_code(ctx: AccountsContext, call: Call) -> dict[str, Any]:
    code = fields.text(call.json(), "code", 32)
    with ctx.session(call) as (conn, auth):
        if auth.token.verified:
            return {}  # a repeated request (the page retried): nothing to do
        ctx.limit((f"code:{auth.account.uid}", CODES_PER_ACCOUNT))
        row = store.find_confirmation(conn, auth.token.token_id)
        if row is None:
            failure = "no code for this session"
        elif row.expires_at < ctx.now_ms():
            failure = "expired code"
        elif not store.spend_attempt(conn, auth.token.token_id, MAX_ATTEMPTS):
            failure = "too many wrong codes"
        elif crypto.equal(store.confirmation_hash(auth.token.token_id, code.strip()), row.code_hash):
            store.confirm_session(conn, row)
            return {}
        else:
            failure = "wrong code"
    # raised after the transaction: the spent attempt stays counted
    raise errors.invalid_code(failure)


def resend_code(ctx: AccountsContext, call: Call) -> dict[str, Any]:
    if ctx.mailer is None:
        return {}  # no mail: every session is confirmed already
    now = ctx.now_ms()
    with ctx.session(call) as (conn, auth):
        if auth.token.verified:
            return {}
        session_id, email = auth.token.token_id, auth.account.email
        row = store.find_confirmation(conn, session_id)
        code = new_code()
        if row is None:  # purged with its session a day on; the session is going too
            raise errors.invalid_auth_token("an unconfirmed session's code is gone: sign in again")
        if not store.replace_confirmation(conn, session_id, code, now, CODE_TTL_SECONDS * 1000,
                                            sent_before=now - RESEND_EVERY_SECONDS * 1000, max_sends=MAX_SENDS):
            raise _resent_already(row, now)
    mail_code(ctx, email, code, "resend")
    return {}


def _resent_already(row: sa.Row, now_ms: int) -> errors.ApiError:
    if row.sends >= MAX_SENDS:
        # more needs a new sign-in (itself rate limited, and a new session)
        return errors.too_many_requests(CODE_TTL_SECONDS, reason="confirmation mails: limit per session reached")
    wait = max(1, RESEND_EVERY_SECONDS - (now_ms - row.sent_at) // 1000)
    return errors.too_many_requests(int(wait), reason="confirmation mail: sent a moment ago")
