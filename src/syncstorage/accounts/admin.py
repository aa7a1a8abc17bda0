"""What `syncstorage account ...` does to the accounts tables.

The CLI stands in for the page: to add an account it stretches the password
exactly as the page does (onepw v1, spec §4.2) and stores the verifier of
the resulting `authPW`, so the password itself is never kept.
"""

from __future__ import annotations

import hashlib
import secrets

import sqlalchemy as sa

from syncstorage import db
from syncstorage.accounts import crypto, store
from syncstorage.accounts.crypto import kw

QUICK_STRETCH_ROUNDS = 1000


def make_engine(url: str) -> sa.Engine:
    _dialect, engine = db.create_engine(url, lock_timeout=10.0, pool_size=1, writes_only=True)
    engine.hide_parameters = True  # errors must not quote verifiers or token keys
    return engine


def auth_pw_v1(email: str, password: str) -> bytes:
    """onepw v1 client-side stretching, as the sign-in page does it."""
    quick = hashlib.pbkdf2_hmac(
        "sha256", password.encode("utf-8"), kw("quickStretch") + b":" + email.encode("utf-8"), QUICK_STRETCH_ROUNDS, 32
    )
    return crypto.hkdf(quick, kw("authPW"), 32)


class AccountProblem(Exception):
    """A request the tables refuse (an existing or unknown account)."""


def add_account(engine: sa.Engine, email: str, password: str, now_ms: int) -> str:
    verifier = crypto.stretch(auth_pw_v1(email, password), crypto.new_seed())
    with engine.begin() as conn:
        if store.find_account(conn, email=email) is not None:
            raise AccountProblem(f"an account with e-mail {email} exists already")
        return store.insert_account(conn, email, verifier, now_ms)


def list_accounts(engine: sa.Engine) -> list[sa.Row]:
    with engine.begin() as conn:
        return store.list_accounts(conn)


def find(engine: sa.Engine, email: str) -> sa.Row:
    with engine.begin() as conn:
        account = store.find_account(conn, email=email)
    if account is None:
        raise AccountProblem(f"no account with e-mail {email}")
    return account


def invite(engine: sa.Engine, email: str | None, now_ms: int, ttl: int) -> str:
    code = secrets.token_urlsafe(16)
    with engine.begin() as conn:
        store.insert_invite(conn, code, email, now_ms, ttl)
    return code


def reset_token(engine: sa.Engine, email: str, now_ms: int, ttl: int) -> str:
    """A one-time accountResetToken (hex) for the page's reset form."""
    account = find(engine, email)
    with engine.begin() as conn:
        store.delete_tokens(conn, account.uid, store.ACCOUNT_RESET)  # one live reset code at a time
        return store.issue_token(conn, store.ACCOUNT_RESET, account.uid, now_ms, expires_at=now_ms + ttl * 1000).seed_hex


def delete(engine: sa.Engine, email: str) -> str:
    account = find(engine, email)
    with engine.begin() as conn:
        store.delete_account(conn, account.uid)
    return account.uid
