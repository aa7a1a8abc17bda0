// Hawk request signing as Firefox's CryptoUtils.computeHAWK does it (accounts
// spec §4.6): no ext, payload hash when there is a body.

import { randomBytes, toBase64, toHex, utf8 } from "./bytes.js";
import { hmacSha256, sha256 } from "./onepw.js";

// `credentials`: {id, key} of onepw.tokenKeys; `url`: absolute URL object;
// `offsetMs`: server time minus local time (from an errno 111 answer).
export async function hawkHeader(method, url, credentials, { body = null, contentType = "application/json", offsetMs = 0 } = {}) {
  const ts = Math.floor((Date.now() + offsetMs) / 1000);
  const nonce = toBase64(randomBytes(8));
  const port = url.port || (url.protocol == "https:" ? "443" : "80");
  let hash = "";
  if (body) {
    hash = toBase64(await sha256(utf8(`hawk.1.payload\n${contentType}\n${body}\n`)));
  }
  const normalized = ["hawk.1.header", ts, nonce, method.toUpperCase(), url.pathname + url.search,
    url.hostname.toLowerCase(), port, hash, ""].join("\n") + "\n";
  const mac = toBase64(await hmacSha256(credentials.key, utf8(normalized)));
  const hashPart = hash ? `hash="${hash}", ` : "";
  return `Hawk id="${toHex(credentials.id)}", ts="${ts}", nonce="${nonce}", ${hashPart}mac="${mac}"`;
}
