// The onepw protocol's client side (accounts spec §4): password
// stretching, token expansion and the key bundle of GET /v1/account/keys.
// WebCrypto only; the password, quickStretchedPW and unwrapBKey never leave
// this page.

import { equalBytes, utf8, xor } from "./bytes.js";

const PREFIX = "identity.mozilla.com/picl/v1/";
const PBKDF2_ROUNDS = 1000; // v1 quickStretch (Firefox's Credentials.sys.mjs)

// KW(name) and KWE(name, email) of spec §4.1.
export function kw(name) {
  return utf8(PREFIX + name);
}

function kwe(name, email) {
  return utf8(`${PREFIX}${name}:${email}`);
}

// HKDF-SHA256 with an empty salt (the same PRK as 32 zero bytes).
export async function hkdf(ikm, info, length) {
  const key = await crypto.subtle.importKey("raw", ikm, "HKDF", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits(
    { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(32), info },
    key,
    length * 8,
  );
  return new Uint8Array(bits);
}

export async function hmacSha256(key, data) {
  const hmacKey = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", hmacKey, data));
}

export async function sha256(data) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", data));
}

// v1 stretching: PBKDF2(password, KWE("quickStretch", email), 1000) then
// authPW (sent to the server) and unwrapBKey (kept here). The email is the
// one the account was created with (errno 120 tells it when the case differs).
export async function deriveCredentials(email, password) {
  const passwordKey = await crypto.subtle.importKey("raw", utf8(password), "PBKDF2", false, ["deriveBits"]);
  const quickStretchedPW = new Uint8Array(await crypto.subtle.deriveBits(
    { name: "PBKDF2", hash: "SHA-256", salt: kwe("quickStretch", email), iterations: PBKDF2_ROUNDS },
    passwordKey,
    256,
  ));
  try {
    return {
      authPW: await hkdf(quickStretchedPW, kw("authPW"), 32),
      unwrapBKey: await hkdf(quickStretchedPW, kw("unwrapBkey"), 32),
    };
  } finally {
    quickStretchedPW.fill(0);
  }
}

// A token seed's Hawk id, Hawk key and extra key (spec §4.5).
export async function tokenKeys(seed, tokenType) {
  const derived = await hkdf(seed, kw(tokenType), 96);
  return { id: derived.slice(0, 32), key: derived.slice(32, 64), extra: derived.slice(64, 96) };
}

// {kA, wrapKb} out of the bundle of GET /v1/account/keys (spec §4.7),
// after checking its MAC.
export async function unbundleKeys(keyRequestKey, bundle) {
  if (bundle.length != 96) {
    throw new Error("the key bundle has the wrong length");
  }
  const keys = await hkdf(keyRequestKey, kw("account/keys"), 96);
  const respHMACkey = keys.slice(0, 32);
  const respXORkey = keys.slice(32, 96);
  const ciphertext = bundle.slice(0, 64);
  const mac = await hmacSha256(respHMACkey, ciphertext);
  if (!equalBytes(mac, bundle.slice(64, 96))) {
    throw new Error("the key bundle's MAC does not match");
  }
  const plain = xor(ciphertext, respXORkey);
  return { kA: plain.slice(0, 32), wrapKb: plain.slice(32, 64) };
}
