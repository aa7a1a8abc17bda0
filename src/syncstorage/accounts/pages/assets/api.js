// The accounts API as the pages call it (accounts spec §4.4-§7): JSON over
// fetch, Hawk-signed where a token is needed, bounded in time.

import { fromHex, toHex } from "./bytes.js";
import { hawkHeader } from "./hawk.js";
import { tokenKeys } from "./onepw.js";

const TIMEOUT_MS = 30000;
const FIREFOX_CLIENT_ID = "5882386c6d801776";

// An answer with an `error` member (spec §1.3): errno tells what it was.
export class AccountsError extends Error {
  constructor(status, body) {
    super(body.message || body.error || `HTTP ${status}`);
    this.status = status;
    this.errno = body.errno ?? status;
    this.email = body.email; // errno 120: the account's email as created
    this.retryAfter = body.retryAfter;
    this.serverTime = body.serverTime;
  }
}

export class AccountsAPI {
  // The API lives on the page's origin (spec §1.2: one origin).
  constructor(origin = location.origin) {
    this.origin = origin;
    this.offsetMs = 0; // server clock minus ours, learnt from errno 111
  }

  // `token`: {hex, type} of a session/keyFetch/passwordChange token, or null.
  async request(method, path, { body = undefined, token = null } = {}) {
    const url = new URL(path, this.origin);
    const text = body === undefined ? null : JSON.stringify(body);
    for (let attempt = 0; ; attempt++) {
      const headers = { Accept: "application/json" };
      if (text !== null) {
        headers["Content-Type"] = "application/json; charset=utf-8";
      }
      if (token) {
        const credentials = await tokenKeys(fromHex(token.hex), token.type);
        headers.Authorization = await hawkHeader(method, url, credentials, { body: text, offsetMs: this.offsetMs });
      }
      const response = await fetch(url, {
        method, headers, body: text, credentials: "omit", cache: "no-store", signal: AbortSignal.timeout(TIMEOUT_MS),
      });
      let answer;
      try {
        answer = await response.json();
      } catch {
        answer = { errno: response.status, message: `HTTP ${response.status} without a JSON body` };
      }
      if (response.ok && !(answer && answer.error)) {
        return answer;
      }
      const error = new AccountsError(response.status, answer || {});
      // Our clock is off: take the server's and sign once more (as Firefox does).
      if (error.errno == 111 && attempt == 0 && Number.isFinite(error.serverTime)) {
        this.offsetMs = error.serverTime * 1000 - Date.now();
        continue;
      }
      throw error;
    }
  }

  // `invite`: the code of `syncstorage account invite` (sign-up policy "invite").
  createAccount(email, authPW, invite) {
    const body = { email, authPW: toHex(authPW), service: "sync", ...(invite ? { invite } : {}) };
    return this.request("POST", "/v1/account/create?keys=true", { body });
  }

  login(email, authPW) {
    return this.request("POST", "/v1/account/login?keys=true", { body: { email, authPW: toHex(authPW), service: "sync", reason: "signin" } });
  }

  // A new password (and a new kB: spec §7.2) with the code of
  // `syncstorage account reset-password`, an accountResetToken.
  // `email` salted authPW: the server answers errno 120 with the account's
  // own address when the letter case differs, as login does.
  resetAccount(resetCode, email, authPW) {
    return this.request("POST", "/v1/account/reset?keys=true", {
      body: { email, authPW: toHex(authPW), sessionToken: true }, token: { hex: resetCode, type: "accountResetToken" },
    });
  }

  // The code mailed for an unconfirmed session (verificationMethod "email-otp").
  verifyCode(sessionToken, code) {
    return this.request("POST", "/v1/session/verify_code", { body: { code }, token: session(sessionToken) });
  }

  resendCode(sessionToken) {
    return this.request("POST", "/v1/session/resend_code", { body: {}, token: session(sessionToken) });
  }

  // The single use of a keyFetchToken: {bundle} (spec §4.7).
  accountKeys(keyFetchToken) {
    return this.request("GET", "/v1/account/keys", { token: { hex: keyFetchToken, type: "keyFetchToken" } });
  }

  scopedKeyData(sessionToken, scope) {
    return this.request("POST", "/v1/account/scoped-key-data", {
      body: { client_id: FIREFOX_CLIENT_ID, scope }, token: session(sessionToken),
    });
  }

  authorize(sessionToken, body) {
    return this.request("POST", "/v1/oauth/authorization", { body, token: session(sessionToken) });
  }

  devices(sessionToken) {
    return this.request("GET", "/v1/account/devices", { token: session(sessionToken) });
  }

  destroyDevice(sessionToken, id) {
    return this.request("POST", "/v1/account/device/destroy", { body: { id }, token: session(sessionToken) });
  }

  // Signed with the session: with confirmation by mail on, the server gives
  // the keys only to a confirmed session's holder (errno 138 otherwise).
  passwordChangeStart(sessionToken, email, oldAuthPW) {
    return this.request("POST", "/v1/password/change/start", {
      body: { email, oldAuthPW: toHex(oldAuthPW) }, token: session(sessionToken),
    });
  }

  passwordChangeFinish(passwordChangeToken, body) {
    return this.request("POST", "/v1/password/change/finish?keys=false", {
      body, token: { hex: passwordChangeToken, type: "passwordChangeToken" },
    });
  }

  destroyAccount(email, authPW) {
    return this.request("POST", "/v1/account/destroy", { body: { email, authPW: toHex(authPW) } });
  }
}

function session(hex) {
  return { hex, type: "sessionToken" };
}
