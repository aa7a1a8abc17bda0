"""Rate limits on password checks (spec accounts.md §8.2): per account and
per client address, answered 429 errno 114 with retryAfter and Retry-After."""

from __future__ import annotations

import pytest

from accounts.conftest import new_email
from support.onepw import ApiError, Credentials, OnepwClient
from syncstorage.accounts.context import PASSWORD_PER_ACCOUNT, PASSWORD_PER_ADDRESS
from syncstorage.accounts.ratelimit import Limit, RateLimiter

pytestmark = pytest.mark.e2e


def attempt(client: OnepwClient, email: str) -> int:
    body = {"email": email, "authPW": Credentials.v1(email, "guess").auth_pw.hex()}
    response = client.raw("POST", "/v1/account/login", body)
    if response.status_code == 429:
        answer = response.json()
        assert answer["errno"] == 114 and answer["retryAfter"] >= 1
        assert response.headers["Retry-After"] == str(answer["retryAfter"])
    return response.status_code


def test_guessing_one_accounts_password_is_limited(sqlite_client: OnepwClient):
    email = new_email()
    sqlite_client.create(email, "the real password")  # spends one of the budget too
    allowed = PASSWORD_PER_ACCOUNT.burst - 1
    statuses = [attempt(sqlite_client, email) for _ in range(allowed)]
    assert statuses == [400] * allowed  # 103 incorrect password
    assert attempt(sqlite_client, email) == 429
    # even the right password waits: a guesser cannot tell it from a wrong one
    with pytest.raises(ApiError) as limited:
        sqlite_client.login(email, "the real password")
    assert limited.value.errno == 114
    # other accounts are not affected
    other = new_email()
    sqlite_client.create(other, "another password")
    sqlite_client.login(other, "another password")


def test_one_address_trying_many_accounts_is_limited(sqlite_client: OnepwClient):
    # unknown accounts: the limit is spent before any lookup or scrypt
    statuses = [attempt(sqlite_client, new_email()) for _ in range(PASSWORD_PER_ADDRESS.burst)]
    assert statuses == [400] * PASSWORD_PER_ADDRESS.burst  # 102 unknown account
    assert attempt(sqlite_client, new_email()) == 429


def test_the_limiter_refills_and_stays_bounded():
    now = [0.0]
    limiter = RateLimiter(max_keys=3, clock=lambda: now[0])
    limit = Limit(burst=2, per_seconds=10)
    assert [limiter.take("a", limit) for _ in range(3)] == [0, 0, 10]
    now[0] = 5
    assert limiter.take("a", limit) == 5  # half a request refilled
    now[0] = 15
    assert limiter.take("a", limit) == 0
    for key in "bcd":
        limiter.take(key, limit)
    assert len(limiter._buckets) == 3  # "a", least recently used, was dropped
    assert "a" not in limiter._buckets
