// Byte helpers for the accounts pages: hex, base64url, UTF-8, XOR.
// Every secret is a Uint8Array so that it can be wiped (fill(0)).

const encoder = new TextEncoder();

export function utf8(text) {
  return encoder.encode(text);
}

export function toHex(bytes) {
  return Array.from(bytes, b => b.toString(16).padStart(2, "0")).join("");
}

export function fromHex(hex) {
  if (typeof hex != "string" || hex.length % 2 || !/^[0-9a-fA-F]*$/.test(hex)) {
    throw new Error("not a hex string");
  }
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) {
    bytes[i] = parseInt(hex.substr(i * 2, 2), 16);
  }
  return bytes;
}

// base64url without padding, as JOSE and Firefox's keys_jwk use it.
export function toBase64Url(bytes) {
  return toBase64(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function fromBase64Url(text) {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) {
    throw new Error("not base64url");
  }
  const standard = text.replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(standard + "=".repeat((4 - (standard.length % 4)) % 4));
  return Uint8Array.from(binary, c => c.charCodeAt(0));
}

// Standard base64 with padding, as Hawk uses it.
export function toBase64(bytes) {
  return btoa(String.fromCharCode(...bytes));
}

export function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

export function xor(a, b) {
  if (a.length != b.length) {
    throw new Error("xor of different lengths");
  }
  return a.map((byte, i) => byte ^ b[i]);
}

// Compares all bytes whatever the first difference (a MAC check).
export function equalBytes(a, b) {
  if (a.length != b.length) {
    return false;
  }
  let difference = 0;
  for (let i = 0; i < a.length; i++) {
    difference |= a[i] ^ b[i];
  }
  return difference == 0;
}

export function randomBytes(length) {
  return crypto.getRandomValues(new Uint8Array(length));
}

export function wipe(...secrets) {
  for (const secret of secrets) {
    if (secret) {
      secret.fill(0);
    }
  }
}
