"""What the accounts endpoints share: settings, database, clock, Hawk,
rate limits, the bounded password-stretching pool and the signing keys."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from starlette.routing import Route

from syncstorage.accounts import crypto, errors, fields, store
from syncstorage.accounts.hawk import HawkVerifier
from syncstorage.accounts.http import Call, endpoint
from syncstorage.accounts.mail import Mailer
from syncstorage.accounts.ratelimit import Limit, RateLimiter
from syncstorage.accounts.signing import SigningKey
from syncstorage.auth.nonces import NonceStore
from syncstorage.settings import Settings
from syncstorage.timestamps import Clock

# scrypt takes 64 MiB and a few hundred ms: at most this many at once, and a
# request waits at most KDF_WAIT_SECONDS for its turn (then 503 errno 201).
KDF_CONCURRENCY = 2
KDF_WAIT_SECONDS = 10.0

# Password checks (login, create, destroy, change): per account and per
# client address. Existence checks (status by email) per address.
PASSWORD_PER_ACCOUNT = Limit(burst=10, per_seconds=60)
PASSWORD_PER_ADDRESS = Limit(burst=30, per_seconds=10)
LOOKUP_PER_ADDRESS = Limit(burst=60, per_seconds=2)

# Expired tokens, codes, invitations and deny-list entries are deleted by
# the first request after this many seconds (and at start-up).
PURGE_EVERY_SECONDS = 3600


@dataclass(frozen=True, slots=True)
class Holder:
    """The credential that authenticated a request: a Hawk-signing token
    (session, key fetch, ...) or, on the device endpoints, a mobile app's
    refresh token (spec §2.6), whose hash then stands for its session."""

    token_id: str
    verified: bool
    auth_at: int  # seconds
    key_bundle: str | None = None


@dataclass(frozen=True, slots=True)
class Authenticated:
    token: Holder
    account: sa.Row


class AccountsContext:
    def __init__(
        self,
        settings: Settings,
        engine: sa.Engine,
        nonce_store: NonceStore,
        keys: list[SigningKey],
        clock: Clock,
        is_unavailable: Callable[[sa.exc.SQLAlchemyError], bool],
        account_deleted: Callable[[str], None] | None = None,
        mailer: Mailer | None = None,
    ) -> None:
        """`account_deleted(uid)`: called after an account deleted itself
        (app.py deletes its synced data, which this package cannot reach)."""
        self.settings = settings
        self.account_deleted = account_deleted
        self.mailer = mailer  # None: no confirmation by mail (confirm.py)
        self.public_url = settings.effective_accounts_public_url
        self.engine = engine
        self.clock = clock
        self.keys = keys
        self.is_unavailable = is_unavailable
        self.hawk = HawkVerifier(self.public_url, nonce_store, settings.hawk_skew_window, clock.time)
        self.limits = RateLimiter()
        self._kdf_slots = threading.BoundedSemaphore(KDF_CONCURRENCY)
        self._purge_lock = threading.Lock()
        self._purged_at: float | None = None  # clock time of the last purge

    def route(
        self, method: str, path: str, handler: Callable[[AccountsContext, Call], Any], *,
        signed_by: str | None = None, refresh_token_ok: bool = False, unconfirmed_ok: bool = False,
    ) -> Route:
        """`signed_by`: the token kind whose Hawk signature the request must
        carry; checked before the handler looks at the body.
        `refresh_token_ok`: a mobile app's `Bearer <refresh token>` may stand
        in for the session (the device endpoints, spec §2.6).
        `unconfirmed_ok`: a session still waiting for its mailed code
        (confirm.py) may make the request; elsewhere it is refused, 400
        errno 138, so the password alone gets nothing but the chance to
        confirm."""

        def run(call: Call) -> Any:
            self.purge_if_due()
            call.refresh_token_ok = refresh_token_ok
            call.unconfirmed_ok = unconfirmed_ok
            if signed_by is not None:
                with self.authenticated(call, signed_by):
                    pass
            return handler(self, call)

        name = path  # the request log's route
        return Route(path, endpoint(run, name, is_unavailable=self.is_unavailable), methods=[method], name=name)

    def purge_if_due(self) -> None:
        """Delete what expired, at most once per PURGE_EVERY_SECONDS, in
        whichever request comes first (others do not wait for it)."""
        now = self.clock.time()
        if self._purged_at is not None and now - self._purged_at < PURGE_EVERY_SECONDS:
            return
        if not self._purge_lock.acquire(blocking=False):
            return
        try:
            with self.engine.begin() as conn:
                store.purge_expired(conn, int(now * 1000), self.settings.accounts_code_ttl * 1000)
            self._purged_at = now
        finally:
            self._purge_lock.release()

    def now_ms(self) -> int:
        return int(self.clock.time() * 1000)

    # --- abuse resistance ---

    def limit(self, *keys: tuple[str, Limit]) -> None:
        """Spend one request of each budget; 429 errno 114 when one is spent."""
        waits = [self.limits.take(key, limit) for key, limit in keys]
        if max(waits, default=0):
            raise errors.too_many_requests(max(waits))

    def limit_password_attempt(self, call: Call, email: str) -> None:
        self.limit(
            (f"password:{store.normalize_email(email)}", PASSWORD_PER_ACCOUNT),
            (f"password-addr:{call.client_address}", PASSWORD_PER_ADDRESS),
        )

    def stretch(self, auth_pw: bytes, auth_salt: bytes) -> crypto.Verifier:
        if not self._kdf_slots.acquire(timeout=KDF_WAIT_SECONDS):
            raise errors.unavailable(retry_after=5)
        try:
            return crypto.stretch(auth_pw, auth_salt)
        finally:
            self._kdf_slots.release()

    def check_password(self, account: sa.Row, auth_pw: bytes) -> crypto.Verifier:
        """The account's verifier for `auth_pw`, or 400 errno 103."""
        verifier = self.stretch(auth_pw, bytes.fromhex(account.auth_salt))
        if not crypto.equal(verifier.verify_hash.hex(), account.verify_hash):
            raise errors.incorrect_password(account.email)
        return verifier

    # --- Hawk-authenticated tokens (§4.5, §4.6) ---

    @contextmanager
    def authenticated(self, call: Call, kind: str) -> Iterator[tuple[sa.Connection, Authenticated]]:
        """A transaction and the token of `kind` that signed the request (and
        its account); 401 errno 110 when there is none, 109/111/115 when the
        signature is wrong. A session's use is recorded (§6.1 lastAccessTime)."""
        if kind == store.SESSION and call.refresh_token_ok and _bearer(call.signed.authorization):
            with self.engine.begin() as conn:
                yield conn, self._refresh_token_holder(conn, call)
            return
        if call.signer is None:
            token_id, attributes = self.hawk.token_id(call.signed)
        else:  # checked already (a nonce is good once): the token must still be there
            token_id, attributes = call.signer, None
        with self.engine.begin() as conn:
            token = store.find_token(conn, token_id)
            if token is None or token.kind != kind:
                raise errors.invalid_auth_token(f"unknown {kind}")
            now = self.now_ms()
            if attributes is not None:
                self.hawk.check(call.signed, attributes, bytes.fromhex(token.hmac_key))
                call.signer = token_id
            if self._expired(token, now):  # the row goes at the next purge
                raise errors.invalid_auth_token(f"expired {kind}")
            account = store.find_account(conn, uid=token.uid)
            if account is None or account.disabled_at is not None:  # a disabled account's tokens are gone too
                raise errors.invalid_auth_token("the token's account is gone")
            if kind == store.SESSION and attributes is not None:  # once per request
                store.touch_session(conn, token_id, now)
            if kind == store.SESSION and not token.verified and not call.unconfirmed_ok:
                raise errors.unverified_session()
            holder = Holder(token.token_id, bool(token.verified), token.auth_at, token.key_bundle)
            yield conn, Authenticated(holder, account)

    def _refresh_token_holder(self, conn: sa.Connection, call: Call) -> Authenticated:
        value = _bearer(call.signed.authorization)
        row = store.find_refresh_token(conn, value) if value and fields.is_hex(value, 64) else None
        if row is None:
            raise errors.invalid_auth_token("unknown refresh token")
        account = store.find_account(conn, uid=row.uid)
        if account is None or account.disabled_at is not None:
            raise errors.invalid_auth_token("the token's account is gone")
        if call.signer is None:  # once per request
            now = self.now_ms()
            store.touch_refresh_token(conn, row.token_hash, now)
            store.touch_session(conn, row.token_hash, now)  # its device's lastAccessTime
            call.signer = row.token_hash
        return Authenticated(Holder(row.token_hash, True, row.created_at // 1000), account)

    def session(self, call: Call) -> AbstractContextManager[tuple[sa.Connection, Authenticated]]:
        return self.authenticated(call, store.SESSION)

    def _expired(self, token: sa.Row, now_ms: int) -> bool:  # a token row
        if token.expires_at is not None:
            return token.expires_at < now_ms
        idle_days = self.settings.accounts_session_idle_days
        return bool(idle_days) and token.last_used_at < now_ms - idle_days * 86_400_000


def _bearer(authorization: str | None) -> str | None:
    """The value of a `Bearer` Authorization header, None for another scheme."""
    scheme, _, value = (authorization or "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None
