"""Signing in to the admin page: the token, sessions, CSRF, attempt limits.

- The token typed into the sign-in form is checked against the scrypt hash
  of `admin_token` (syncstorage/tokenhash.py), in a worker thread.
- A session is a random id in a cookie (HttpOnly, SameSite=Strict, Secure
  when public_url is https, path limited to the admin pages). The server
  keeps only the id's SHA-256 with its CSRF token and expiry, in the
  database (every worker sees it): at most MAX_SESSIONS (the oldest goes
  first), each for at most SESSION_SECONDS.
- Every form carries a CSRF token: the session's, or before sign-in a
  signed one that a short-lived cookie also holds (double submit, see
  `SignInForms`). Actions are POSTs.
- Sign-in attempts per client address: at most MAX_FAILURES failed ones in
  FAILURE_WINDOW seconds, then 429 until the oldest leaves the window;
  at most MAX_ADDRESSES addresses are remembered (the least recent goes),
  in each process's memory (N workers allow N times as many attempts).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import Response

from syncstorage.admin.page import Refusal
from syncstorage.admin.schema import sessions
from syncstorage.storage.sql import SQLStorage

SESSION_COOKIE = "syncstorage_admin"
SIGNIN_COOKIE = "syncstorage_admin_signin"
SESSION_SECONDS = 8 * 3600
SIGNIN_FORM_SECONDS = 3600
MAX_SESSIONS = 64
MAX_FAILURES = 5
FAILURE_WINDOW = 300.0
MAX_ADDRESSES = 4096
MAX_COOKIE_CHARACTERS = 100  # a token_urlsafe(32) is 43


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclass
class Session:
    who: str  # the first characters of the id's hash: names the session in logs
    csrf: str


class Sessions:
    """The signed-in sessions, in the database (admin/schema.py) so that
    every worker knows them. Blocking: call from a worker thread."""

    def __init__(self, storage: SQLStorage) -> None:
        self.storage = storage

    def create(self) -> tuple[str, Session]:
        """A new session: (the id for the cookie, the session). Expired
        sessions go, and the oldest beyond MAX_SESSIONS."""
        raw = secrets.token_urlsafe(32)
        digest, csrf = _digest(raw), secrets.token_urlsafe(32)
        now = self.storage.clock.now_ms()
        with self.storage.transaction(write=True) as conn:
            conn.execute(sa.delete(sessions).where(sessions.c.expires_at <= now))
            conn.execute(sa.insert(sessions).values(digest=digest, csrf=csrf, expires_at=now + SESSION_SECONDS * 1000))
            oldest_kept = conn.execute(
                sa.select(sessions.c.expires_at).order_by(sessions.c.expires_at.desc())
                .offset(MAX_SESSIONS - 1).limit(1)
            ).scalar()
            if oldest_kept is not None:
                conn.execute(sa.delete(sessions).where(sessions.c.expires_at < oldest_kept))
        return raw, Session(digest[:12], csrf)

    def find(self, raw: str | None) -> Session | None:
        if not raw or len(raw) > MAX_COOKIE_CHARACTERS:
            return None
        digest = _digest(raw)
        with self.storage.transaction(write=False) as conn:
            row = conn.execute(
                sa.select(sessions.c.csrf).where(
                    sessions.c.digest == digest, sessions.c.expires_at > self.storage.clock.now_ms()
                )
            ).first()
        return Session(digest[:12], row.csrf) if row is not None else None

    def end(self, raw: str) -> None:
        with self.storage.transaction(write=True) as conn:
            conn.execute(sa.delete(sessions).where(sessions.c.digest == _digest(raw)))


class FailedAttempts:
    """Failed sign-ins per client address, in bounded memory."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._by_address: OrderedDict[str, deque[float]] = OrderedDict()

    def wait(self, address: str) -> int:
        """Seconds until `address` may try again (0: now)."""
        failures = self._by_address.get(address)
        now = self.clock()
        if failures is None or len(failures) < MAX_FAILURES:
            return 0
        left = failures[0] + FAILURE_WINDOW - now
        return max(0, int(left) + 1) if left > 0 else 0

    def record(self, address: str) -> None:
        failures = self._by_address.pop(address, None) or deque(maxlen=MAX_FAILURES)
        failures.append(self.clock())
        self._by_address[address] = failures  # now the most recent
        while len(self._by_address) > MAX_ADDRESSES:
            self._by_address.popitem(last=False)


class SignInForms:
    """The CSRF tokens of the sign-in form, before any session: a random
    value and its HMAC under a key of this server, so a value an attacker
    planted in both the cookie and the form is refused. The key is derived
    from the master secret, so every worker accepts every worker's forms."""

    def __init__(self, master_secret: str | None) -> None:
        secret = master_secret.encode() if master_secret else secrets.token_bytes(32)
        self.key = hmac.new(secret, b"syncstorage admin sign-in form", hashlib.sha256).digest()

    def _mac(self, nonce: str) -> str:
        return hmac.new(self.key, nonce.encode(), hashlib.sha256).hexdigest()[:32]

    def new(self) -> str:
        nonce = secrets.token_urlsafe(18)
        return f"{nonce}.{self._mac(nonce)}"

    def valid(self, value: str | None) -> bool:
        if not value or len(value) > MAX_COOKIE_CHARACTERS:
            return False
        nonce, _, mac = value.partition(".")
        return same_secret(mac, self._mac(nonce))


def same_secret(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def require_csrf(form: dict[str, str], expected: str) -> None:
    if not same_secret(form.get("csrf"), expected):
        raise Refusal(403, "admin form without the right CSRF token")


class Cookies:
    """The admin cookies' attributes: only the admin pages get them."""

    def __init__(self, path: str, secure: bool) -> None:
        self.path = path or "/"
        self.secure = secure

    def set(self, response: Response, name: str, value: str, max_age: int) -> None:
        response.set_cookie(
            name, value, max_age=max_age, path=self.path, secure=self.secure, httponly=True, samesite="strict"
        )

    def clear(self, response: Response, name: str) -> None:
        response.delete_cookie(name, path=self.path, secure=self.secure, httponly=True, samesite="strict")


def client_address(request: Request) -> str:
    # The peer's address: behind a reverse proxy every client shares the
    # proxy's, so failed attempts anywhere delay everyone (documented).
    return request.client.host if request.client else "unknown"
