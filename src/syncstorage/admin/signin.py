"""Signing in to the admin page: the token, sessions, CSRF, attempt limits.

- The token typed into the sign-in form is checked against the scrypt hash
  of `admin_token` (syncstorage/tokenhash.py), in a worker thread.
- A session is a random id in a cookie (HttpOnly, SameSite=Strict, Secure
  when public_url is https, path limited to the admin pages). The server
  keeps only the id's SHA-256 with its CSRF token and expiry, in process
  memory: at most MAX_SESSIONS (the oldest goes first), each for at most
  SESSION_SECONDS. A restart signs everyone out.
- Every form carries a CSRF token: the session's, or before sign-in one
  that a short-lived cookie also holds (double submit). Actions are POSTs.
- Sign-in attempts per client address: at most MAX_FAILURES failed ones in
  FAILURE_WINDOW seconds, then 429 until the oldest leaves the window;
  at most MAX_ADDRESSES addresses are remembered (the least recent goes).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from syncstorage.admin.page import Refusal

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
    expires: float


class Sessions:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._by_digest: OrderedDict[str, Session] = OrderedDict()

    def create(self) -> tuple[str, Session]:
        """A new session: (the id for the cookie, the session)."""
        raw = secrets.token_urlsafe(32)
        digest = _digest(raw)
        session = Session(digest[:12], secrets.token_urlsafe(32), self.clock() + SESSION_SECONDS)
        self._by_digest[digest] = session
        while len(self._by_digest) > MAX_SESSIONS:
            self._by_digest.popitem(last=False)
        return raw, session

    def find(self, raw: str | None) -> Session | None:
        if not raw or len(raw) > MAX_COOKIE_CHARACTERS:
            return None
        digest = _digest(raw)
        session = self._by_digest.get(digest)
        if session is not None and session.expires <= self.clock():
            del self._by_digest[digest]
            return None
        return session

    def end(self, raw: str | None) -> None:
        if raw and len(raw) <= MAX_COOKIE_CHARACTERS:
            self._by_digest.pop(_digest(raw), None)


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
