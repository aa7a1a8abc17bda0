"""The onepw derivations of the test client and of the server, checked
against the test vectors of spec accounts.md §4-§5 (the ✓ ones)."""

from __future__ import annotations

from unittest import mock

from support.onepw import Credentials, sync_key, token_credentials, unbundle, xor
from syncstorage.accounts import crypto

EMAIL = bytes.fromhex("616e6472c3a9406578616d706c652e6f7267").decode()  # andré@example.org
PASSWORD = bytes.fromhex("70c3a4737377c3b67264").decode()  # pässwörd
AUTH_PW = "247b675ffb4c46310bc87e26d712153abe5e1c90ef00a4784594f97ef54f2375"
UNWRAP_B_KEY = "de6a2648b78284fcb9ffa81ba95803309cfba7af583c01a8a1a63e567234dd28"
KB = "9e2b640bf3c7c2bbf1b6e250e5154d7fccaaf5fc0c6957fff9ff640d2e698377"
WRAP_KB = bytes(range(0x40, 0x60))
KEY_FETCH_TOKEN = bytes(range(0x80, 0xA0)).hex()
BUNDLE = (
    "ee5c58845c7c9412b11bbd20920c2fddd83c33c9cd2c2de2d66b222613364636"
    "c2c0f8cfbb7c630472c0bd88451342c6c05b14ce342c5ad46ad89e84464c993c"
    "3927d30230157d0817a077eef4b20d976f7a97363faf3f064c003ada7d01aa70"
)


def test_client_stretching_v1():
    creds = Credentials.v1(EMAIL, PASSWORD)
    assert creds.quick_stretched_pw.hex() == "e4e8889bd8bd61ad6de6b95c059d56e7b50dacdaf62bd84644af7e2add84345d"
    assert creds.auth_pw.hex() == AUTH_PW
    assert creds.unwrap_b_key.hex() == UNWRAP_B_KEY


def test_server_verifier_and_wrapping():
    verifier = crypto.stretch(bytes.fromhex(AUTH_PW), bytes.fromhex("00f0") + bytes(30))
    assert verifier.verify_hash.hex() == "a4765bf103dc057f4cf4bc2c131ddb6716e8a4333cc55e1d3c449f31f0eec4f1"
    assert verifier.wrapwrap_key.hex() == "3ebea117efa9faf57ce195899b2905058368e7760cc26ea58a2a1be0da7fb287"
    wrap_wrap_kb = crypto.xor(WRAP_KB, verifier.wrapwrap_key)
    assert wrap_wrap_kb.hex() == "7effe354abecbcb234a8dfc2d7644b4ad339b525589738f2d27341bb8622ecd8"
    assert xor(WRAP_KB, bytes.fromhex(UNWRAP_B_KEY)).hex() == KB


def test_token_derivations_server_and_client():
    session = bytes(range(0xA0, 0xC0))
    keys = crypto.token_keys(session, "sessionToken")
    assert keys.token_id == "c0a29dcf46174973da1378696e4c82ae10f723cf4f4d9f75e39f4ae3851595ab"
    assert keys.hmac_key.hex() == "9d8f22998ee7f5798b887042466b72d53e56ab0c094388bf65831f702d2febc0"
    fetch = crypto.token_keys(bytes.fromhex(KEY_FETCH_TOKEN), "keyFetchToken")
    assert fetch.token_id == "3d0a7c02a15a62a2882f76e39b6494b500c022a8816e048625a495718998ba60"
    assert fetch.hmac_key.hex() == "87b8937f61d38d0e29cd2d5600b3f4da0aa48ac41de36a0efe84bb4a9872ceb7"
    assert fetch.extra.hex() == "14f338a9e8c6324d9e102d4e6ee83b209796d5c74bb734a410e729e014a4a546"
    assert token_credentials(KEY_FETCH_TOKEN, "keyFetchToken") == (fetch.token_id, fetch.hmac_key, fetch.extra)


def test_key_bundle():
    ka = bytes(range(0x20, 0x40))
    fetch = crypto.token_keys(bytes.fromhex(KEY_FETCH_TOKEN), "keyFetchToken")
    assert crypto.key_bundle(fetch.extra, ka, WRAP_KB) == BUNDLE
    assert unbundle(KEY_FETCH_TOKEN, BUNDLE) == (ka, WRAP_KB)


def test_a_tampered_bundle_is_refused_by_the_client():
    import pytest

    tampered = BUNDLE[:-2] + ("00" if BUNDLE[-2:] != "00" else "01")
    with pytest.raises(ValueError):
        unbundle(KEY_FETCH_TOKEN, tampered)


def test_oldsync_scoped_key():
    key = sync_key(bytes.fromhex(KB), 1510726317123)
    assert key["kid"] == "1510726317123-6RAnWPgsVlcAHkXU9-kTng"
    assert key["k"] == "LKbuhCCuNa8cPdiBqnGzJMO_mqh5K6yUkfOKRL3X07kZ35YHuAItwvgAfMQoV_n7WmxidLzweBWh-bQxgXYsfQ"


def test_cli_stretching_matches_the_page():
    from syncstorage.accounts.admin import auth_pw_v1

    assert auth_pw_v1(EMAIL, PASSWORD).hex() == AUTH_PW


def test_scrypt_parameters_are_the_specs():
    # N=2^16, r=8, p=1 (spec §4.3): the vector above pins the output; this
    # pins that the memory-hard parameters reach hashlib unchanged.
    with mock.patch("hashlib.scrypt", wraps=__import__("hashlib").scrypt) as scrypt:
        crypto.stretch(b"x" * 32, b"y" * 32)
    assert scrypt.call_args.kwargs | {"maxmem": 0} == {"salt": b"y" * 32, "n": 65536, "r": 8, "p": 1, "maxmem": 0, "dklen": 32}
