"""OAuth token verification (auth-and-tokens §7) against the mock accounts server."""

from __future__ import annotations

import json

import pytest

from support.mock_fxa import SYNC_SCOPE, _rsa_key, public_jwk
from support.server import free_port
from syncstorage.settings import Settings
from syncstorage.tokenserver.oauth import (
    AccountsUnavailable,
    InvalidToken,
    OAuthVerifier,
    VerifiedToken,
    looks_like_jwt,
    oauth_base_url,
)

MAX_GENERATION = 9223372036854775807


@pytest.fixture
def verifier(fxa):
    v = OAuthVerifier(fxa.url, timeout=5)
    yield v
    v.close()


def test_base_url_forms():
    assert oauth_base_url("http://host:6000") == "http://host:6000"
    assert oauth_base_url("http://host:6000/") == "http://host:6000"
    assert oauth_base_url("https://oauth.accounts.firefox.com/v1") == "https://oauth.accounts.firefox.com"
    assert oauth_base_url("https://oauth.accounts.firefox.com/v1/") == "https://oauth.accounts.firefox.com"


def test_opaque_values_are_not_jwts():
    assert not looks_like_jwt("a.b.c")
    assert not looks_like_jwt('{"user": "x", "v": "1.0. x"}')
    assert not looks_like_jwt("abc")


def test_valid_jwt(fxa, verifier):
    assert verifier.verify(fxa.access_token("u1", generation=1234)) == VerifiedToken("u1", 1234)
    assert verifier.verify(fxa.access_token("u2")) == VerifiedToken("u2", None)
    assert verifier.verify(fxa.access_token("u3", generation=MAX_GENERATION)).generation == MAX_GENERATION
    assert fxa.verify_requests == []  # verified locally


@pytest.mark.parametrize("typ", ["at+jwt", "AT+JWT", "application/at+jwt", "Application/At+Jwt"])
def test_typ_accepted(fxa, verifier, typ):
    assert verifier.verify(fxa.access_token("u1", typ=typ)).fxa_uid == "u1"


@pytest.mark.parametrize("typ", [None, "JWT", "jwt", "application/jwt", "at+jwt2"])
def test_typ_refused(fxa, verifier, typ):
    with pytest.raises(InvalidToken):
        verifier.verify(fxa.access_token("u1", typ=typ))
    assert fxa.verify_requests == []  # no fallback for a well-formed JWT


def test_expiry_with_60s_leeway(fxa, verifier):
    assert verifier.verify(fxa.access_token("u1", expires_in=-30)).fxa_uid == "u1"
    with pytest.raises(InvalidToken):
        verifier.verify(fxa.access_token("u1", expires_in=-90))


@pytest.mark.parametrize(
    "scope",
    [SYNC_SCOPE, f"profile {SYNC_SCOPE}", f"profile,{SYNC_SCOPE}", f"openid, {SYNC_SCOPE} profile"],
)
def test_scope_accepted(fxa, verifier, scope):
    assert verifier.verify(fxa.access_token("u1", scope=scope)).fxa_uid == "u1"


@pytest.mark.parametrize("scope", ["profile", "", SYNC_SCOPE + "x", "https://identity.mozilla.com/apps"])
def test_scope_refused(fxa, verifier, scope):
    with pytest.raises(InvalidToken):
        verifier.verify(fxa.access_token("u1", scope=scope))


def test_missing_sub_or_scope_refused(fxa, verifier):
    with pytest.raises(InvalidToken):
        verifier.verify(fxa.access_token("u1", scope=None))  # scope claim null
    with pytest.raises(InvalidToken):
        verifier.verify(fxa.access_token(None))


def test_generation_must_be_an_integer(fxa, verifier):
    with pytest.raises(InvalidToken):
        verifier.verify(fxa.access_token("u1", **{"fxa-generation": "12"}))


def test_signature_by_unknown_key_refused_without_fallback(fxa, verifier):
    forged = fxa.access_token("u1", signing_key=_rsa_key(7))  # kid of the real key
    with pytest.raises(InvalidToken):
        verifier.verify(forged)
    assert fxa.verify_requests == []


def test_jwks_fetched_once_and_cached(fxa, verifier):
    for n in range(3):
        verifier.verify(fxa.access_token(f"u{n}"))
    assert fxa.jwks_requests == 1


def test_unknown_kid_refetches_at_most_once_a_minute(fxa, verifier):
    verifier.verify(fxa.access_token("u1"))
    fxa.rotate_key("key-2")
    assert verifier.verify(fxa.access_token("u1")).fxa_uid == "u1"  # new kid: refetched
    assert fxa.jwks_requests == 2
    # Another unknown kid within the minute: no new fetch, and it is refused.
    fxa.rotate_key("key-3")
    with pytest.raises(InvalidToken):
        verifier.verify(fxa.access_token("u1"))
    assert fxa.jwks_requests == 2
    # Tokens signed with already known keys keep working.
    assert verifier.verify(fxa.access_token("u1", kid="key-2")).fxa_uid == "u1"


def test_configured_jwks_are_used_without_fetching(fxa):
    verifier = OAuthVerifier(fxa.url, timeout=5, configured_jwks=fxa.jwks())
    assert verifier.verify(fxa.access_token("u1")).fxa_uid == "u1"
    assert fxa.jwks_requests == 0
    verifier.close()


def test_secondary_configured_jwk(fxa):
    other = public_jwk(_rsa_key(5), "old-key")
    verifier = OAuthVerifier(fxa.url, timeout=5, configured_jwks=[other, *fxa.jwks()])
    assert verifier.verify(fxa.access_token("u1")).fxa_uid == "u1"
    # No kid match: every key is tried.
    token = fxa.access_token("u2", kid="unlisted", signing_key=fxa.signing_keys["key-1"])
    assert verifier.verify(token).fxa_uid == "u2"
    verifier.close()


def test_unusable_configured_jwk_is_a_startup_error(fxa):
    with pytest.raises(ValueError, match="not a usable RSA public key"):
        OAuthVerifier(fxa.url, timeout=5, configured_jwks=[{"fake": "RSA key"}])
    with pytest.raises(ValueError, match="not a usable RSA public key"):
        Settings(fxa_oauth_primary_jwk={"kty": "RSA", "n": "x"})
    assert Settings(fxa_oauth_secondary_jwk=fxa.jwks()[0]).fxa_oauth_secondary_jwk == fxa.jwks()[0]


@pytest.mark.parametrize("published", [[{"fake": "RSA key"}], [], "nonsense", [{"kty": "EC"}]])
def test_unusable_jwks_falls_back_to_remote_verify(fxa, verifier, published):
    fxa.published_jwks = published
    assert verifier.verify(fxa.access_token("u1", generation=5)) == VerifiedToken("u1", 5)
    assert len(fxa.verify_requests) == 1


def test_failed_jwks_fetch_falls_back_to_remote_verify(fxa, verifier):
    fxa.jwks_status = 500
    assert verifier.verify(fxa.access_token("u1")).fxa_uid == "u1"
    assert len(fxa.verify_requests) == 1


def test_opaque_token_verified_remotely(fxa, verifier):
    token = fxa.opaque_token("u9", generation=MAX_GENERATION)
    assert " " in token and "." in token
    assert verifier.verify(token) == VerifiedToken("u9", MAX_GENERATION)
    (request,) = fxa.verify_requests
    assert json.loads(request["body"]) == {"token": token}
    assert request["headers"]["Content-Length"] == str(len(request["body"]))
    assert "Transfer-Encoding" not in request["headers"]
    assert request["headers"]["Content-Type"] == "application/json"
    assert fxa.jwks_requests == 0  # not a JWT: no keys needed


def test_remote_verify_refusals(fxa, verifier):
    with pytest.raises(InvalidToken):
        verifier.verify("not a token the server knows")
    with pytest.raises(InvalidToken):
        verifier.verify(fxa.opaque_token("u1", scope=["profile"]))
    for answer in [(200, b"not json"), (200, b"[]"), (200, b'{"scope": []}'), (500, b"{}"),
                   (200, b'{"user": "u1", "scope": ["%s"], "generation": 1.5}' % SYNC_SCOPE.encode())]:
        fxa.verify_response = answer
        with pytest.raises(InvalidToken):
            verifier.verify("opaque")


def test_remote_scope_as_string_and_extra_keys(fxa, verifier):
    fxa.verify_response = (200, json.dumps({"user": "u1", "scope": f"profile {SYNC_SCOPE}", "x": 1}).encode())
    assert verifier.verify("opaque") == VerifiedToken("u1", None)


def test_accounts_server_unreachable():
    verifier = OAuthVerifier(f"http://127.0.0.1:{free_port()}", timeout=2)
    with pytest.raises(AccountsUnavailable):
        verifier.verify("opaque token")
    # A JWT with no reachable JWKS goes to remote verify, which is unreachable too.
    with pytest.raises(AccountsUnavailable):
        verifier.verify("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1In0.c2ln")
    verifier.close()


def test_accounts_server_timeout(fxa):
    verifier = OAuthVerifier(fxa.url, timeout=0.3)
    fxa.delay = 1
    with pytest.raises(AccountsUnavailable):
        verifier.verify("opaque token")
    verifier.close()


def test_jwk_settings_survive_the_export_to_worker_processes(fxa):
    """`serve --workers N` hands settings to workers through the environment."""
    import os

    from syncstorage.cli.serve import export_to_environment

    settings = Settings(fxa_oauth_primary_jwk=fxa.jwks()[0], allowed_users=["a", "b"], master_secret=["s"])
    saved = dict(os.environ)
    try:
        export_to_environment(settings)
        again = Settings()
    finally:  # the export writes os.environ itself: put it back whole
        os.environ.clear()
        os.environ.update(saved)
    assert again.fxa_oauth_primary_jwk == settings.fxa_oauth_primary_jwk
    assert again.allowed_users == ["a", "b"]
