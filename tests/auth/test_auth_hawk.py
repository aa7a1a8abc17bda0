"""Hawk header parsing, normalized string and MAC (auth-and-tokens §3.1-§3.2)."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from syncstorage.auth import AuthError
from syncstorage.auth.hawk import (
    MacKey,
    compute_mac,
    hawk_header,
    macs_equal,
    normalized_string,
    parse_authorization,
    stale_timestamp_header,
)

KEY = b"osqtsv25gmiDegS_q9Er3kzKdFOK5QSU3nQFCnXa-gA="
REFERENCE_MAC = "52buCGo/UVUvcUzfgUzg0Hx84e67ZFJ+tYORdFz1p6E="


def test_reference_mac():
    text = normalized_string(
        ts="1700000000", nonce="abc123", method="get", path_qs="/1.5/42/info/collections",
        host="LocalHost", port=8000,
    )
    assert text == "hawk.1.header\n1700000000\nabc123\nGET\n/1.5/42/info/collections\nlocalhost\n8000\n\n\n"
    assert compute_mac(KEY, text) == REFERENCE_MAC


@pytest.mark.parametrize("key_length", [0, 1, 44, 63, 64, 65, 200])
def test_precomputed_key_is_hmac_sha256(key_length):
    """MacKey (the pads hashed once per token) gives the standard HMAC,
    for keys shorter than, as long as and longer than SHA-256's block."""
    key = bytes((i * 37 + key_length) % 256 for i in range(key_length))
    mac_key = MacKey(key)
    for message in (b"", b"hawk.1.header\n", bytes(range(256)) * 9):
        assert mac_key.digest(message) == hmac.digest(key, message, "sha256")
        assert mac_key.digest(message) == hmac.digest(key, message, "sha256")  # states not consumed


def test_signer_reproduces_reference_mac():
    header = hawk_header("GET", "http://localhost:8000/1.5/42/info/collections", "tok", KEY.decode(),
                         ts=1700000000, nonce="abc123")
    assert parse_authorization(header) == {"id": "tok", "ts": "1700000000", "nonce": "abc123", "mac": REFERENCE_MAC}


def test_signer_defaults_ports_and_keeps_raw_query():
    header = hawk_header("post", "https://Example.org/sync/1.5/1/storage/a%20b?ids=x,y&full=1", "t", b"k",
                         ts=5, nonce="n+/=")
    expected = compute_mac(b"k", "hawk.1.header\n5\nn+/=\nPOST\n/sync/1.5/1/storage/a%20b?ids=x,y&full=1\nexample.org\n443\n\n\n")
    assert parse_authorization(header)["mac"] == expected


def test_random_nonce_and_current_ts():
    a = parse_authorization(hawk_header("GET", "http://h/x", "t", b"k"))
    b = parse_authorization(hawk_header("GET", "http://h/x", "t", b"k"))
    assert a["nonce"] != b["nonce"]
    assert abs(int(a["ts"]) - int(b["ts"])) <= 1


def test_hash_and_ext_are_signed_and_escaped():
    header = hawk_header("GET", "http://h:81/x", "t", b"k", ts=1, nonce="n", hash="abc=", ext='say "hi" \\o/')
    attrs = parse_authorization(header)
    assert attrs["ext"] == 'say "hi" \\o/'
    assert attrs["hash"] == "abc="
    assert attrs["mac"] == compute_mac(b"k", 'hawk.1.header\n1\nn\nGET\n/x\nh\n81\nabc=\nsay "hi" \\o/\n')


def test_parse_any_order_whitespace_and_escapes():
    attrs = parse_authorization('hawk   mac="m\\"x" ,ts="12",nonce = "a+b/c=="  ,  id="i\\\\d"')
    assert attrs == {"mac": 'm"x', "ts": "12", "nonce": "a+b/c==", "id": "i\\d"}
    assert parse_authorization('Hawk\tid="a",ts="1",nonce="n",mac="m"')["id"] == "a"


@pytest.mark.parametrize(("value", "reason"), [
    ('Bearer id="a", ts="1", nonce="n", mac="m"', "scheme is not Hawk"),
    ('Basic dXNlcjpwYXNz', "scheme is not Hawk"),
    ("", "scheme is not Hawk"),
    ("Hawk", "attribute id missing"),
    ('Hawk ts="1", nonce="n", mac="m"', "attribute id missing"),
    ('Hawk id="a", nonce="n", mac="m"', "attribute ts missing"),
    ('Hawk id="a", ts="1", mac="m"', "attribute nonce missing"),
    ('Hawk id="a", ts="1", nonce="n"', "attribute mac missing"),
    ('Hawk id="", ts="1", nonce="n", mac="m"', "attribute id missing"),
    ('Hawk id="a", ts="1", nonce="n", mac="m", id="b"', "duplicated Hawk attribute id"),
    ('Hawk id="a" ts="1", nonce="n", mac="m"', "malformed Hawk header"),
    ('Hawk id=a, ts="1", nonce="n", mac="m"', "malformed Hawk header"),
    ('Hawk id="a, ts="1", nonce="n", mac="m"', "malformed Hawk header"),
    ('Hawk id="a", ts="1", nonce="n", mac="m\\"', "malformed Hawk header"),
    ('Hawk id="a", ts="1.5", nonce="n", mac="m"', "ts is not an integer"),
    ('Hawk id="a", ts="-1", nonce="n", mac="m"', "ts is not an integer"),
    ('Hawk id="a", ts="1", nonce="n", mac="m", app="x"', "attribute app not supported"),
    ('Hawk id="a", ts="1", nonce="n", mac="m", dlg="x"', "attribute dlg not supported"),
])
def test_malformed_headers(value, reason):
    with pytest.raises(AuthError, match=reason):
        parse_authorization(value)


def test_macs_equal_handles_any_client_input():
    assert macs_equal(REFERENCE_MAC, REFERENCE_MAC)
    assert not macs_equal(REFERENCE_MAC, REFERENCE_MAC[:-2] + "A=")
    assert not macs_equal(REFERENCE_MAC, "é")


def test_stale_timestamp_header():
    value = stale_timestamp_header(KEY, 1700000100)
    tsm = base64.b64encode(hmac.new(KEY, b"hawk.1.ts\n1700000100\n", hashlib.sha256).digest()).decode()
    assert value == f'Hawk ts="1700000100", tsm="{tsm}", error="Stale timestamp"'


def test_plain_header_fast_path_follows_the_full_grammar():
    """The split-on-quotes path for headers without backslashes must accept,
    refuse and read exactly what the escape-aware parser does (§3.1)."""
    import random

    from syncstorage.auth.hawk import _escaped_pairs, _plain_pairs

    rng = random.Random(6)
    alphabet = ['"', ",", " ", "\t", "=", "a", "id", "ts", "Z", "1", "+/", "é"]
    samples = [
        'id="t", ts="1", nonce="n", mac="m=="',
        'id = "t" ,ts="1",nonce="n",mac="m",',
        'id="t" ,',
        'id="", ts="1"',
        'id="a,b=c", ts="1"',
    ]

    def attribute() -> str:
        space = lambda: rng.choice(["", " ", "  "])  # noqa: E731
        value = "".join(rng.choice(["a", "=", ",", " ", "+/"]) for _ in range(rng.randint(0, 4)))
        return f"{space()}{rng.choice(['id', 'ts', 'mac'])}{space()}={space()}\"{value}\"{space()}"

    for _ in range(20000):
        text = ",".join(attribute() for _ in range(rng.randint(1, 3)))
        for _ in range(rng.randint(0, 2)):  # then damage it
            at = rng.randint(0, len(text))
            text = text[:at] + rng.choice(alphabet) + text[at + rng.randint(0, 1) :]
        samples.append(text.strip())

    def outcome(parse, text):
        try:
            return parse(text)
        except AuthError as exc:
            return str(exc)

    accepted = 0
    for text in samples:
        expected = outcome(_escaped_pairs, text)
        assert outcome(_plain_pairs, text) == expected, text
        accepted += isinstance(expected, list) and bool(expected)
    assert accepted > 100  # the random samples reach the accepting paths too
