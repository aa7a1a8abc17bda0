"""The accounts server's statements, one short transaction per request.

Every function takes an open connection inside `engine.begin()`; the
callers (the endpoint modules) decide what one transaction covers.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from syncstorage.accounts import crypto
from syncstorage.db import prefix_range
from syncstorage.accounts.schema import (
    account_codes,
    accounts,
    device_commands,
    devices,
    invites,
    oauth_codes,
    refresh_tokens,
    revoked_access_tokens,
    tokens,
)

SESSION = "sessionToken"
KEY_FETCH = "keyFetchToken"
PASSWORD_CHANGE = "passwordChangeToken"
ACCOUNT_RESET = "accountResetToken"

UNCONFIRMED_KEPT_MS = 86_400_000  # an unconfirmed session and its code (confirm.py)


def normalize_email(email: str) -> str:
    return email.lower()


def next_time(now_ms: int, previous: int) -> int:
    """§7.3: strictly after any value issued before, even if the clock went back."""
    return max(now_ms, previous + 1)


# --- accounts ---


def find_account(conn: sa.Connection, *, uid: str | None = None, email: str | None = None) -> sa.Row | None:
    if uid is not None:
        where = accounts.c.uid == uid
    else:
        assert email is not None
        where = accounts.c.normal_email == normalize_email(email)
    return conn.execute(sa.select(accounts).where(where)).first()


def list_accounts(conn: sa.Connection) -> list[sa.Row]:
    return list(conn.execute(sa.select(accounts).order_by(accounts.c.created_at)))


def account_page(conn: sa.Connection, *, after: str | None, prefix: str, limit: int) -> list[sa.Row]:
    """Accounts in address order from just after `after` (keyset paging on
    the unique normal_email index), only those whose address starts with
    `prefix` when it is not empty (a range on that index)."""
    query = sa.select(accounts).order_by(accounts.c.normal_email).limit(limit)
    if prefix:
        query = query.where(prefix_range(accounts.c.normal_email, prefix))
    if after is not None:
        query = query.where(accounts.c.normal_email > after)
    return list(conn.execute(query))


def count_accounts(conn: sa.Connection) -> int:
    return conn.execute(sa.select(sa.func.count()).select_from(accounts)).scalar_one()


def last_sign_ins(conn: sa.Connection, uids: list[str]) -> dict[str, int]:
    """{uid: the start of its newest live session} for these accounts (the
    uid index: a page's worth at a time)."""
    if not uids:
        return {}
    rows = conn.execute(
        sa.select(tokens.c.uid, sa.func.max(tokens.c.created_at))
        .where(tokens.c.uid.in_(uids), tokens.c.kind == SESSION)
        .group_by(tokens.c.uid)
    )
    return {uid: created for uid, created in rows}


def set_disabled(conn: sa.Connection, uid: str, disabled_at: int | None) -> None:
    """Disable (with the time) or enable an account; disabling also ends
    every session, device, refresh token and code (as a reset does)."""
    if disabled_at is not None:
        revoke_everything(conn, uid)
    conn.execute(accounts.update().where(accounts.c.uid == uid).values(disabled_at=disabled_at))


def password_columns(verifier: crypto.Verifier, wrap_kb: bytes) -> dict[str, Any]:
    return {
        "verifier_version": crypto.VERIFIER_VERSION,
        "auth_salt": verifier.auth_salt.hex(),
        "verify_hash": verifier.verify_hash.hex(),
        "wrap_wrap_kb": crypto.xor(wrap_kb, verifier.wrapwrap_key).hex(),
    }


def insert_account(
    conn: sa.Connection, email: str, verifier: crypto.Verifier, now_ms: int, *, verified: bool = True
) -> str:
    """A new account with a random kB (wrapped) and kA; returns its uid."""
    uid = secrets.token_hex(16)
    conn.execute(accounts.insert().values(
        uid=uid, email=email, normal_email=normalize_email(email), email_verified=verified,
        ka=secrets.token_hex(32), verifier_set_at=now_ms, keys_changed_at=now_ms,
        created_at=now_ms, profile_changed_at=now_ms,
        **password_columns(verifier, secrets.token_bytes(32)),
    ))
    return uid


def set_password(
    conn: sa.Connection, account: sa.Row, verifier: crypto.Verifier, wrap_kb: bytes, now_ms: int, *, keys_changed: bool
) -> int:
    """New verifier (and, for a reset, new kA and keys time); returns the new generation."""
    generation = next_time(now_ms, account.verifier_set_at)
    values: dict[str, Any] = {**password_columns(verifier, wrap_kb), "verifier_set_at": generation}
    if keys_changed:
        values["keys_changed_at"] = generation
        values["ka"] = secrets.token_hex(32)
    conn.execute(accounts.update().where(accounts.c.uid == account.uid).values(**values))
    return generation


def delete_account(conn: sa.Connection, uid: str) -> bool:
    revoke_everything(conn, uid)
    conn.execute(device_commands.delete().where(device_commands.c.uid == uid))
    return conn.execute(accounts.delete().where(accounts.c.uid == uid)).rowcount > 0


def revoke_everything(conn: sa.Connection, uid: str, *, keep_session: str | None = None) -> None:
    """Sessions (all but `keep_session`), their devices, refresh tokens and codes (§7.1, §7.2)."""
    token_filter = tokens.c.uid == uid
    device_filter = devices.c.uid == uid
    if keep_session is not None:
        token_filter &= tokens.c.token_id != keep_session
        device_filter &= (devices.c.session_token_id != keep_session) | devices.c.session_token_id.is_(None)
    conn.execute(devices.delete().where(device_filter))
    conn.execute(tokens.delete().where(token_filter))
    conn.execute(refresh_tokens.delete().where(refresh_tokens.c.uid == uid))
    conn.execute(oauth_codes.delete().where(oauth_codes.c.uid == uid))
    code_filter = account_codes.c.uid == uid
    if keep_session is not None:
        code_filter &= account_codes.c.session_token_id != keep_session
    conn.execute(account_codes.delete().where(code_filter))


# --- tokens (§4.5) ---


@dataclass(frozen=True, slots=True)
class IssuedToken:
    seed_hex: str  # for the holder only, never stored
    token_id: str


def issue_token(
    conn: sa.Connection, kind: str, uid: str, now_ms: int, *,
    expires_at: int | None = None, keys: tuple[bytes, bytes] | None = None, user_agent: str | None = None,
    verified: bool = True,
) -> IssuedToken:
    """`keys`: (kA, wrapKb) for a key-fetch token, kept only as the bundle
    encrypted to the token's keyRequestKey (§4.7), as FxA does. `verified`
    False: the token waits for a confirmation code (confirm.py)."""
    seed = crypto.new_seed()
    derived = crypto.token_keys(seed, kind)
    conn.execute(tokens.insert().values(
        token_id=derived.token_id, kind=kind, uid=uid, hmac_key=derived.hmac_key.hex(), verified=verified,
        auth_at=now_ms // 1000, created_at=now_ms, last_used_at=now_ms, expires_at=expires_at,
        key_bundle=crypto.key_bundle(derived.extra, *keys) if keys else None,
        user_agent=user_agent[:255] if user_agent else None,
    ))
    return IssuedToken(seed.hex(), derived.token_id)


def find_token(conn: sa.Connection, token_id: str) -> sa.Row | None:
    return conn.execute(sa.select(tokens).where(tokens.c.token_id == token_id)).first()


def delete_token(conn: sa.Connection, token_id: str) -> bool:
    return conn.execute(tokens.delete().where(tokens.c.token_id == token_id)).rowcount > 0


def delete_tokens(conn: sa.Connection, uid: str, kind: str) -> None:
    conn.execute(tokens.delete().where(tokens.c.uid == uid, tokens.c.kind == kind))


def touch_session(conn: sa.Connection, token_id: str, now_ms: int) -> None:
    conn.execute(tokens.update().where(tokens.c.token_id == token_id).values(last_used_at=now_ms))
    conn.execute(devices.update().where(devices.c.session_token_id == token_id).values(last_access_at=now_ms))


def move_device(conn: sa.Connection, from_session: str, to_session: str) -> None:
    conn.execute(devices.update().where(devices.c.session_token_id == from_session).values(session_token_id=to_session))


def sessions_of(conn: sa.Connection, uid: str) -> list[sa.Row]:
    return list(conn.execute(
        sa.select(tokens).where(tokens.c.uid == uid, tokens.c.kind == SESSION).order_by(tokens.c.created_at)
    ))


def delete_session(conn: sa.Connection, token_id: str) -> None:
    conn.execute(devices.delete().where(devices.c.session_token_id == token_id))
    conn.execute(account_codes.delete().where(account_codes.c.session_token_id == token_id))
    delete_token(conn, token_id)


# --- confirmation codes (confirm.py) ---


def confirmation_hash(session_token_id: str, code: str) -> str:
    """Salted with the session so one code's hash says nothing of another's."""
    return crypto.sha256_hex(f"{session_token_id}:{code}".encode())


def insert_confirmation(
    conn: sa.Connection, session_token_id: str, uid: str, code: str, now_ms: int, ttl_ms: int, *,
    key_fetch_token_id: str | None = None,
) -> None:
    """The first code of a session: one mail sent."""
    conn.execute(account_codes.insert().values(
        session_token_id=session_token_id, uid=uid, key_fetch_token_id=key_fetch_token_id,
        code_hash=confirmation_hash(session_token_id, code), expires_at=now_ms + ttl_ms, attempts=0, sends=1,
        sent_at=now_ms,
    ))


def replace_confirmation(
    conn: sa.Connection, session_token_id: str, code: str, now_ms: int, ttl_ms: int, *, sent_before: int, max_sends: int
) -> bool:
    """A new code in place of the session's last one (which stops working),
    if that one was sent before `sent_before` and fewer than `max_sends`
    were: one conditional update, so two requests at once send one mail."""
    return conn.execute(
        account_codes.update()
        .where(account_codes.c.session_token_id == session_token_id, account_codes.c.sent_at <= sent_before,
               account_codes.c.sends < max_sends)
        .values(code_hash=confirmation_hash(session_token_id, code), expires_at=now_ms + ttl_ms, attempts=0,
                sends=account_codes.c.sends + 1, sent_at=now_ms)
    ).rowcount == 1


def find_confirmation(conn: sa.Connection, session_token_id: str) -> sa.Row | None:
    return conn.execute(sa.select(account_codes).where(account_codes.c.session_token_id == session_token_id)).first()


def spend_attempt(conn: sa.Connection, session_token_id: str, max_attempts: int) -> bool:
    """Count one try at the session's code; False when none is left (atomic:
    two requests at once cannot both take the last one)."""
    return conn.execute(
        account_codes.update()
        .where(account_codes.c.session_token_id == session_token_id, account_codes.c.attempts < max_attempts)
        .values(attempts=account_codes.c.attempts + 1)
    ).rowcount == 1


def confirm_session(conn: sa.Connection, code_row: sa.Row) -> None:
    """The session, its key-fetch token and the account's address are confirmed."""
    confirmed = [code_row.session_token_id, *([code_row.key_fetch_token_id] if code_row.key_fetch_token_id else [])]
    conn.execute(tokens.update().where(tokens.c.token_id.in_(confirmed)).values(verified=True))
    conn.execute(accounts.update().where(accounts.c.uid == code_row.uid).values(email_verified=True))
    conn.execute(account_codes.delete().where(account_codes.c.session_token_id == code_row.session_token_id))


# --- invitations ---


def insert_invite(conn: sa.Connection, code: str, email: str | None, now_ms: int, ttl: int) -> None:
    conn.execute(invites.insert().values(
        code_hash=crypto.sha256_hex(code.encode()), email=normalize_email(email) if email else None,
        created_at=now_ms, expires_at=now_ms + ttl * 1000,
    ))


def use_invite(conn: sa.Connection, code: str, email: str, now_ms: int) -> bool:
    """Consume an unexpired invitation for `email` (or for anyone)."""
    code_hash = crypto.sha256_hex(code.encode())
    row = conn.execute(sa.select(invites).where(invites.c.code_hash == code_hash)).first()
    if row is None or row.expires_at < now_ms:
        return False
    if row.email is not None and row.email != normalize_email(email):
        return False
    return conn.execute(invites.delete().where(invites.c.code_hash == code_hash)).rowcount == 1


# --- OAuth ---


def insert_code(conn: sa.Connection, code: str, **values: Any) -> None:
    conn.execute(oauth_codes.insert().values(code_hash=crypto.sha256_hex(code.encode()), **values))


def take_code(conn: sa.Connection, code: str) -> sa.Row | None:
    """The code's row, deleted: a code is used once, even when the exchange fails."""
    code_hash = crypto.sha256_hex(code.encode())
    row = conn.execute(sa.select(oauth_codes).where(oauth_codes.c.code_hash == code_hash)).first()
    if row is None or conn.execute(oauth_codes.delete().where(oauth_codes.c.code_hash == code_hash)).rowcount != 1:
        return None  # another request took it first
    return row


def insert_refresh_token(conn: sa.Connection, uid: str, client_id: str, scope: str, now_ms: int) -> str:
    token = secrets.token_hex(32)
    conn.execute(refresh_tokens.insert().values(
        token_hash=crypto.sha256_hex(token.encode()), client_id=client_id, uid=uid, scope=scope,
        created_at=now_ms, last_used_at=now_ms,
    ))
    return token


def find_refresh_token(conn: sa.Connection, token: str) -> sa.Row | None:
    return conn.execute(
        sa.select(refresh_tokens).where(refresh_tokens.c.token_hash == crypto.sha256_hex(token.encode()))
    ).first()


def touch_refresh_token(conn: sa.Connection, token_hash: str, now_ms: int) -> None:
    conn.execute(refresh_tokens.update().where(refresh_tokens.c.token_hash == token_hash).values(last_used_at=now_ms))


def delete_refresh_token(conn: sa.Connection, token: str) -> None:
    delete_refresh_token_by_hash(conn, crypto.sha256_hex(token.encode()))


def delete_refresh_token_by_hash(conn: sa.Connection, token_hash: str) -> None:
    """The token and the device a mobile app registered with it."""
    conn.execute(refresh_tokens.delete().where(refresh_tokens.c.token_hash == token_hash))
    conn.execute(devices.delete().where(devices.c.session_token_id == token_hash))


def refresh_tokens_of(conn: sa.Connection, uid: str) -> list[sa.Row]:
    return list(conn.execute(sa.select(refresh_tokens).where(refresh_tokens.c.uid == uid)))


def revoke_access_token(conn: sa.Connection, jti: str, expires_at: int) -> None:
    if conn.execute(sa.select(revoked_access_tokens.c.jti).where(revoked_access_tokens.c.jti == jti)).first() is None:
        conn.execute(revoked_access_tokens.insert().values(jti=jti, expires_at=expires_at))


def is_revoked(conn: sa.Connection, jti: str) -> bool:
    return conn.execute(
        sa.select(revoked_access_tokens.c.jti).where(revoked_access_tokens.c.jti == jti)
    ).first() is not None


def purge_expired(conn: sa.Connection, now_ms: int, code_ttl_ms: int) -> None:
    """Forget what can no longer be used: expired tokens, codes, invitations, deny-list entries."""
    conn.execute(oauth_codes.delete().where(oauth_codes.c.created_at < now_ms - code_ttl_ms))
    conn.execute(tokens.delete().where(tokens.c.expires_at.is_not(None), tokens.c.expires_at < now_ms))
    conn.execute(revoked_access_tokens.delete().where(revoked_access_tokens.c.expires_at < now_ms // 1000))
    conn.execute(invites.delete().where(invites.c.expires_at < now_ms))
    # Sessions still unconfirmed a day on were abandoned (or an intruder's
    # who had the password but not the mailbox); a code row is kept as long,
    # since it counts the mails sent (resend limit).
    day_ago = now_ms - UNCONFIRMED_KEPT_MS
    conn.execute(tokens.delete().where(
        tokens.c.kind == SESSION, tokens.c.verified == sa.false(), tokens.c.created_at < day_ago
    ))
    conn.execute(account_codes.delete().where(account_codes.c.sent_at < day_ago))
