"""The accounts pages' JavaScript (src/syncstorage/accounts/pages/assets),
run in a real Firefox on a page it serves, checked against the accounts
spec's test vectors (§4.2, §4.5, §4.7, §5.8), against this project's Hawk
verifier, and against Firefox's own JWE decryption (jwcrypto.decryptJWE)."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from pathlib import Path

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from firefox import browser
from firefox.pages import open_page, run_in_page
from support.server import free_port
from syncstorage.accounts.pages import SECURITY_HEADERS, page_routes
from syncstorage.auth.hawk import compute_mac, normalized_string, parse_authorization

EMAIL = "andré@example.org"
PASSWORD = "pässwörd"
SESSION_TOKEN = bytes(range(0xA0, 0xC0)).hex()
KEY_FETCH_TOKEN = bytes(range(0x80, 0xA0)).hex()
BUNDLE = ("ee5c58845c7c9412b11bbd20920c2fddd83c33c9cd2c2de2d66b222613364636"
          "c2c0f8cfbb7c630472c0bd88451342c6c05b14ce342c5ad46ad89e84464c993c"
          "3927d30230157d0817a077eef4b20d976f7a97363faf3f064c003ada7d01aa70")
KB = "9e2b640bf3c7c2bbf1b6e250e5154d7fccaaf5fc0c6957fff9ff640d2e698377"
SYNC_SCOPE = "https://identity.mozilla.com/apps/oldsync"
HARNESS = Path(__file__).parent / "harness"


def harness_route(name: str, media_type: str) -> Route:
    """A test-only file of harness/, with the pages' own security headers."""
    async def serve(request):
        return Response((HARNESS / name).read_bytes(), media_type=media_type, headers=SECURITY_HEADERS)

    return Route(f"/test-harness/{name}", serve)


@pytest.fixture(scope="module")
def pages_url():
    """The pages' routes alone plus the test harness page, served over real
    HTTP on loopback: these tests are about the scripts, not the accounts API."""
    routes = [*page_routes(), harness_route("harness.html", "text/html"), harness_route("harness.js", "text/javascript")]
    server = uvicorn.Server(uvicorn.Config(Starlette(routes=routes), host="127.0.0.1", port=free_port(),
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the pages server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{server.config.port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def firefox(pages_url, tmp_path_factory):
    if browser.missing():
        pytest.skip(browser.missing())  # the conftest's autouse fixture says why, or fails under REQUIRE
    nowhere = "http://127.0.0.1:9"
    started = browser.Firefox(tmp_path_factory.mktemp("pages") / "profile",
                              browser.profile_prefs(nowhere, nowhere + "/1.0/sync/1.5", free_port()))
    started.start()
    open_page(started, pages_url + "/test-harness/harness.html")
    yield started
    started.stop()


def test_password_stretching_matches_the_v1_vector(firefox):
    answer = run_in_page(firefox, """
        const c = await m.onepw.deriveCredentials(args[0], args[1]);
        return [m.bytes.toHex(c.authPW), m.bytes.toHex(c.unwrapBKey)];
    """, EMAIL, PASSWORD)
    assert answer == ["247b675ffb4c46310bc87e26d712153abe5e1c90ef00a4784594f97ef54f2375",
                      "de6a2648b78284fcb9ffa81ba95803309cfba7af583c01a8a1a63e567234dd28"]


def test_token_expansion_matches_the_vectors(firefox):
    answer = run_in_page(firefox, """
        const hex = m.bytes.toHex;
        const session = await m.onepw.tokenKeys(m.bytes.fromHex(args[0]), "sessionToken");
        const keyFetch = await m.onepw.tokenKeys(m.bytes.fromHex(args[1]), "keyFetchToken");
        return [hex(session.id), hex(session.key), hex(keyFetch.id), hex(keyFetch.key), hex(keyFetch.extra)];
    """, SESSION_TOKEN, KEY_FETCH_TOKEN)
    assert answer == [
        "c0a29dcf46174973da1378696e4c82ae10f723cf4f4d9f75e39f4ae3851595ab",
        "9d8f22998ee7f5798b887042466b72d53e56ab0c094388bf65831f702d2febc0",
        "3d0a7c02a15a62a2882f76e39b6494b500c022a8816e048625a495718998ba60",
        "87b8937f61d38d0e29cd2d5600b3f4da0aa48ac41de36a0efe84bb4a9872ceb7",
        "14f338a9e8c6324d9e102d4e6ee83b209796d5c74bb734a410e729e014a4a546",
    ]


UNBUNDLE = """
    const keyRequestKey = (await m.onepw.tokenKeys(m.bytes.fromHex(args[0]), "keyFetchToken")).extra;
    try {
        const {kA, wrapKb} = await m.onepw.unbundleKeys(keyRequestKey, m.bytes.fromHex(args[1]));
        const {unwrapBKey} = await m.onepw.deriveCredentials(args[2], args[3]);
        return [m.bytes.toHex(kA), m.bytes.toHex(wrapKb), m.bytes.toHex(m.bytes.xor(wrapKb, unwrapBKey))];
    } catch (error) {
        return String(error);
    }
"""


def test_key_bundle_unwraps_to_the_vectors_kb(firefox):
    answer = run_in_page(firefox, UNBUNDLE, KEY_FETCH_TOKEN, BUNDLE, EMAIL, PASSWORD)
    assert answer == [bytes(range(0x20, 0x40)).hex(), bytes(range(0x40, 0x60)).hex(), KB]


@pytest.mark.parametrize("position", [0, 70, 95], ids=["ciphertext", "mac", "last-byte"])
def test_a_tampered_key_bundle_is_refused(firefox, position):
    tampered = bytearray(bytes.fromhex(BUNDLE))
    tampered[position] ^= 1
    answer = run_in_page(firefox, UNBUNDLE, KEY_FETCH_TOKEN, tampered.hex(), EMAIL, PASSWORD)
    assert answer == "Error: the key bundle's MAC does not match"


def test_oldsync_scoped_key_matches_the_vector(firefox):
    answer = run_in_page(firefox, "return await m.keys.oldsyncKey(m.bytes.fromHex(args[0]), 1510726317123);", KB)
    assert answer == {
        "kty": "oct",
        "scope": SYNC_SCOPE,
        "kid": "1510726317123-6RAnWPgsVlcAHkXU9-kTng",
        "k": "LKbuhCCuNa8cPdiBqnGzJMO_mqh5K6yUkfOKRL3X07kZ35YHuAItwvgAfMQoV_n7WmxidLzweBWh-bQxgXYsfQ",
    }


@pytest.mark.parametrize("body", [None, '{"client_id":"5882386c6d801776","scope":"profile"}'], ids=["get", "post"])
def test_hawk_header_verifies_with_the_servers_hawk_code(firefox, pages_url, body):
    url = pages_url + "/v1/account/scoped-key-data?x=1&y=%20"
    method = "GET" if body is None else "POST"
    header = run_in_page(firefox, """
        const credentials = await m.onepw.tokenKeys(m.bytes.fromHex(args[0]), "sessionToken");
        return await m.hawk.hawkHeader(args[1], new page.URL(args[2]), credentials, C({body: args[3]}));
    """, SESSION_TOKEN, method, url, body)
    attributes = parse_authorization(header)
    assert set(attributes) == {"id", "ts", "nonce", "mac"} | ({"hash"} if body else set())
    assert attributes["id"] == "c0a29dcf46174973da1378696e4c82ae10f723cf4f4d9f75e39f4ae3851595ab"
    assert abs(int(attributes["ts"]) - time.time()) < 60
    if body:
        payload = f"hawk.1.payload\napplication/json\n{body}\n".encode()
        assert attributes["hash"] == base64.b64encode(hashlib.sha256(payload).digest()).decode()
    port = pages_url.rsplit(":", 1)[1]
    text = normalized_string(ts=attributes["ts"], nonce=attributes["nonce"], method=method,
                             path_qs="/v1/account/scoped-key-data?x=1&y=%20", host="127.0.0.1", port=port,
                             hash=attributes.get("hash", ""))
    key = bytes.fromhex("9d8f22998ee7f5798b887042466b72d53e56ab0c094388bf65831f702d2febc0")
    assert attributes["mac"] == compute_mac(key, text)


def test_keys_jwe_decrypts_with_firefoxs_own_code(firefox):
    """Firefox makes its flow key pair and keys_jwk exactly as beginOAuthFlow
    does; the page encrypts to it; Firefox's jwcrypto.decryptJWE reads it."""
    keys_jwk = firefox.run("""
        const key = await crypto.subtle.generateKey({name: "ECDH", namedCurve: "P-256"}, false, ["deriveKey"]);
        Services.wm.getMostRecentWindow("navigator:browser").__pagesTestKey = key.privateKey;
        const publicKey = await crypto.subtle.exportKey("jwk", key.publicKey);
        return ChromeUtils.base64URLEncode(new TextEncoder().encode(JSON.stringify(publicKey)), {pad: false});
    """)
    scoped = {SYNC_SCOPE: {"kty": "oct", "scope": SYNC_SCOPE, "kid": "1-AAAA", "k": "AAAA"}}
    jwe = run_in_page(firefox, "return await m.keys.encryptKeys(args[0], C(args[1]));", keys_jwk, scoped)
    header = json.loads(base64.urlsafe_b64decode(jwe.split(".")[0] + "=="))
    assert header["alg"] == "ECDH-ES" and header["enc"] == "A256GCM"
    assert "apu" not in header and "apv" not in header
    assert "=" not in jwe
    decrypted = firefox.run("""
        const { jwcrypto } = ChromeUtils.importESModule("moz-src:///services/crypto/modules/jwcrypto.sys.mjs");
        const plain = await jwcrypto.decryptJWE(args[0], Services.wm.getMostRecentWindow("navigator:browser").__pagesTestKey);
        return JSON.parse(new TextDecoder().decode(plain));
    """, jwe)
    assert decrypted == scoped


def test_keys_jwk_of_another_curve_is_refused(firefox):
    other = base64.urlsafe_b64encode(json.dumps({"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"}).encode()).decode().rstrip("=")
    answer = run_in_page(firefox, """
        try { await m.keys.encryptKeys(args[0], C({})); return "encrypted"; } catch (error) { return String(error); }
    """, other)
    assert answer == "Error: keys_jwk is not a P-256 public key"
