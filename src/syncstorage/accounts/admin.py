"""What `syncstorage account ...` does to the accounts tables.

The CLI stands in for the page: to add an account it stretches the password
exactly as the page does (onepw v1, spec §4.2) and stores the verifier of
the resulting `authPW`, so the password itself is never kept.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

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


@dataclass(frozen=True, slots=True)
class AccountPage:
    accounts: list[sa.Row]  # in address order
    more: bool  # another page follows
    total: int  # every account
    last_sign_ins: dict[str, int]  # uid: ms, for the accounts with a live session


def account_page(engine: sa.Engine, *, after: str | None, search: str, limit: int) -> AccountPage:
    """One page of the admin page's list: after the address `after`; a
    `search` of 32 hex digits is a uid, anything else the start of an address."""
    with engine.begin() as conn:
        if len(search) == 32 and all(c in "0123456789abcdef" for c in search):
            found = store.find_account(conn, uid=search)
            rows = [found] if found is not None else []
        else:
            rows = store.account_page(conn, after=after, prefix=store.normalize_email(search), limit=limit + 1)
        return AccountPage(rows[:limit], len(rows) > limit, store.count_accounts(conn),
                           store.last_sign_ins(conn, [row.uid for row in rows[:limit]]))


def last_sign_in(engine: sa.Engine, uid: str) -> int | None:
    with engine.begin() as conn:
        return store.last_sign_ins(conn, [uid]).get(uid)


def find(engine: sa.Engine, email: str | None = None, *, uid: str | None = None) -> sa.Row:
    """The account of this address (or uid), else AccountProblem."""
    with engine.begin() as conn:
        account = store.find_account(conn, email=email, uid=uid)
    if account is None:
        raise AccountProblem(f"no account with e-mail {email}" if email is not None else f"no account {uid}")
    return account


def invite(engine: sa.Engine, email: str | None, now_ms: int, ttl: int) -> str:
    code = secrets.token_urlsafe(16)
    with engine.begin() as conn:
        store.insert_invite(conn, code, email, now_ms, ttl)
    return code


def reset_token(engine: sa.Engine, account: sa.Row, now_ms: int, ttl: int) -> str:
    """A one-time accountResetToken (hex) for the page's reset form."""
    if account.disabled_at is not None:
        raise AccountProblem(f"the account {account.email} is disabled: enable it first")
    with engine.begin() as conn:
        store.delete_tokens(conn, account.uid, store.ACCOUNT_RESET)  # one live reset code at a time
        return store.issue_token(conn, store.ACCOUNT_RESET, account.uid, now_ms, expires_at=now_ms + ttl * 1000).seed_hex


def set_disabled(engine: sa.Engine, account: sa.Row, disabled: bool, now_ms: int) -> None:
    """Disable (no sign-in; its sessions, devices, refresh tokens and codes
    end; its access tokens are refused) or enable again."""
    with engine.begin() as conn:
        store.set_disabled(conn, account.uid, now_ms if disabled else None)


def delete(engine: sa.Engine, account: sa.Row) -> None:
    """The account, its sessions and devices (its synced data:
    syncstorage/account_removal.py)."""
    with engine.begin() as conn:
        store.delete_account(conn, account.uid)
