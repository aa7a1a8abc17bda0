"""Tokens: the reference vector of auth-and-tokens §2.4, rotation, decoding."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
import tokenlib
from tokenlib import HKDF_INFO_SIGNING
from tokenlib.utils import HKDF

from syncstorage.auth import AuthError
from syncstorage.auth.tokens import TokenVerifier, decode_token, derived_secret, make_token

SECRET = "TED KOPPEL IS A ROBOT"
PAYLOAD = {"uid": 42, "node": "http://localhost:8000", "expires": 2000000000, "salt": "a1b2c3"}
PAYLOAD_BYTES = b'{"uid": 42, "node": "http://localhost:8000", "expires": 2000000000, "salt": "a1b2c3"}'
TOKEN = (
    "eyJ1aWQiOiA0MiwgIm5vZGUiOiAiaHR0cDovL2xvY2FsaG9zdDo4MDAwIiwgImV4cGlyZXMiOiAyMDAwMDAwMDAwLCAic2FsdCI6ICJhMWIyYzMifd"
    "VEPqyacyhxyC2FLVWylq0SDjfl7yhwKB7V28BohxpU"
)
DERIVED = "osqtsv25gmiDegS_q9Er3kzKdFOK5QSU3nQFCnXa-gA="


def test_reference_signing_key():
    key = HKDF(SECRET.encode(), salt=None, info=HKDF_INFO_SIGNING, size=32)
    assert key.hex() == "92e2d4ccac3258546bda51241ce1d3214a969f3de9f6bced16ffc53740e7b96e"


def test_reference_token_and_derived_secret():
    assert json.dumps(PAYLOAD).encode() == PAYLOAD_BYTES
    assert make_token(PAYLOAD, SECRET) == TOKEN
    assert derived_secret(TOKEN, SECRET) == DERIVED
    assert len(DERIVED) == 44


def test_verify_reference_token():
    payload, secret = TokenVerifier([SECRET]).verify(TOKEN)
    assert payload == PAYLOAD
    assert secret == SECRET


def test_interoperates_with_tokenlib():
    token = make_token({"uid": 7, "node": "https://x"}, "s3cret")
    assert tokenlib.parse_token(token, secret="s3cret")["uid"] == 7
    assert derived_secret(token, "s3cret") == tokenlib.get_derived_secret(token, secret="s3cret")
    other = tokenlib.make_token({"uid": 8}, secret="s3cret")
    assert TokenVerifier(["s3cret"]).verify(other)[0]["uid"] == 8


def test_make_token_adds_salt_and_expiry():
    payload, _ = TokenVerifier(["k"]).verify(make_token({"uid": 1}, "k", duration=100))
    assert len(payload["salt"]) == 6 and int(payload["salt"], 16) >= 0
    assert isinstance(payload["expires"], float)


def test_rotation_first_matching_secret_wins():
    old_token = make_token({"uid": 1}, "old")
    new_token = make_token({"uid": 2}, "new")
    verifier = TokenVerifier(["old", "new"])
    assert verifier.verify(old_token)[1] == "old"
    assert verifier.verify(new_token)[1] == "new"
    with pytest.raises(AuthError, match="invalid token signature"):
        TokenVerifier(["new"]).verify(old_token)


def test_secret_with_spaces_is_used_whole():
    token = make_token({"uid": 1}, "correct horse battery staple")
    assert TokenVerifier(["correct horse battery staple"]).verify(token)[1] == "correct horse battery staple"
    for part in "correct horse battery staple".split():
        with pytest.raises(AuthError):
            TokenVerifier([part]).verify(token)


def test_missing_padding_tolerated():
    # payload + signature of 86 bytes: 86 % 3 == 2, so one "=" of padding
    token = make_token({"uid": 1, "salt": "abcdef", "expires": 5, "node": "nod"}, "k")
    assert token.endswith("=") and not token.endswith("==")
    assert TokenVerifier(["k"]).verify(token.rstrip("="))[0]["uid"] == 1
    assert decode_token(token.rstrip("=")) == decode_token(token)


@pytest.mark.parametrize("bad", ["", "abc!def", "a b", "abcde", "====", "ab=c", "é"])
def test_bad_base64(bad):
    with pytest.raises(AuthError, match="malformed token base64"):
        TokenVerifier(["k"]).verify(bad)


def test_short_token():
    # 32 bytes would be a signature with no payload at all (§4 step 1).
    with pytest.raises(AuthError, match="token too short"):
        TokenVerifier(["k"]).verify(base64.urlsafe_b64encode(b"x" * 32).decode())


def test_tampered_payload_fails_signature():
    raw = bytearray(decode_token(TOKEN))
    raw[8] ^= 1
    with pytest.raises(AuthError, match="invalid token signature"):
        TokenVerifier([SECRET]).verify(base64.urlsafe_b64encode(bytes(raw)).decode())


def _raw_token(payload: bytes, secret: str) -> str:
    key = HKDF(secret.encode(), salt=None, info=HKDF_INFO_SIGNING, size=32)
    return base64.urlsafe_b64encode(payload + hmac.new(key, payload, hashlib.sha256).digest()).decode()


@pytest.mark.parametrize(("payload", "reason"), [
    (b"\xff\xfe", "not JSON"),
    (b"{not json", "not JSON"),
    (b"[1, 2]", "not an object"),
    (b'"text"', "not an object"),
])
def test_payload_must_be_a_json_object(payload, reason):
    with pytest.raises(AuthError, match=reason):
        TokenVerifier(["k"]).verify(_raw_token(payload, "k"))


def test_empty_secret_list_refused():
    with pytest.raises(ValueError):
        TokenVerifier([])
