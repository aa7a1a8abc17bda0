// The Sync key and its way to Firefox (accounts spec §5.8, §5.9): the
// oldsync scoped key derived from kB, encrypted to Firefox's ephemeral
// ECDH key (keys_jwk) as a compact JWE, ECDH-ES + A256GCM, the same
// construction as Firefox's jwcrypto.generateJWE.

import { concat, fromBase64Url, toBase64Url, utf8 } from "./bytes.js";
import { hkdf, kw, sha256 } from "./onepw.js";

export const SYNC_SCOPE = "https://identity.mozilla.com/apps/oldsync";

// kB = wrapKb XOR unwrapBKey is done by the caller; this is the JWK Firefox
// stores (FxAccountsKeys._deriveLegacyScopedKey).
export async function oldsyncKey(kB, keysChangedAt) {
  if (!Number.isSafeInteger(keysChangedAt) || keysChangedAt <= 0) {
    throw new Error("keyRotationTimestamp is not a positive integer");
  }
  const k = await hkdf(kB, kw("oldsync"), 64);
  const clientState = (await sha256(kB)).slice(0, 16);
  try {
    return { kty: "oct", scope: SYNC_SCOPE, kid: `${keysChangedAt}-${toBase64Url(clientState)}`, k: toBase64Url(k) };
  } finally {
    k.fill(0);
  }
}

const ECDH = { name: "ECDH", namedCurve: "P-256" };
// Concat KDF's OtherInfo for enc A256GCM, empty PartyU/VInfo, 256 bits.
const OTHER_INFO = concat(new Uint8Array([0, 0, 0, 7]), utf8("A256GCM"), new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]));

// Firefox's keys_jwk parameter (base64url of its public JWK) as a key;
// anything but a P-256 EC key is refused.
async function peerKey(keysJwk) {
  const jwk = JSON.parse(new TextDecoder().decode(fromBase64Url(keysJwk)));
  if (jwk.kty != "EC" || jwk.crv != "P-256" || typeof jwk.x != "string" || typeof jwk.y != "string") {
    throw new Error("keys_jwk is not a P-256 public key");
  }
  return crypto.subtle.importKey("jwk", { kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y }, ECDH, false, []);
}

// `scopedKeys`: {scope: JWK}. Returns the compact JWE string.
export async function encryptKeys(keysJwk, scopedKeys) {
  const peer = await peerKey(keysJwk);
  const ephemeral = await crypto.subtle.generateKey(ECDH, true, ["deriveBits"]);
  const shared = new Uint8Array(await crypto.subtle.deriveBits({ name: "ECDH", public: peer }, ephemeral.privateKey, 256));
  const cekBytes = await sha256(concat(new Uint8Array([0, 0, 0, 1]), shared, OTHER_INFO));
  shared.fill(0);
  const cek = await crypto.subtle.importKey("raw", cekBytes, "AES-GCM", false, ["encrypt"]);
  cekBytes.fill(0);
  const { kty, crv, x, y } = await crypto.subtle.exportKey("jwk", ephemeral.publicKey);
  // No apu/apv members: Firefox refuses them.
  const header = toBase64Url(utf8(JSON.stringify({ alg: "ECDH-ES", enc: "A256GCM", epk: { kty, crv, x, y } })));
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const plaintext = utf8(JSON.stringify(scopedKeys));
  const sealed = new Uint8Array(await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: utf8(header), tagLength: 128 }, cek, plaintext));
  plaintext.fill(0);
  const ciphertext = sealed.slice(0, sealed.length - 16);
  const tag = sealed.slice(sealed.length - 16);
  return `${header}..${toBase64Url(iv)}.${toBase64Url(ciphertext)}.${toBase64Url(tag)}`;
}
