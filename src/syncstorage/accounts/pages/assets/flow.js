// The sign-in / sign-up sequence of accounts spec §3.3, step by step and in
// its order, with no DOM: signin.js supplies the user's input and shows
// progress. Secrets (authPW, unwrapBKey, kB, the keys) are wiped as soon as
// they are used; only the session token and keys_jwe leave this module.

import { fromHex, wipe, xor } from "./bytes.js";
import { encryptKeys, oldsyncKey, SYNC_SCOPE } from "./keys.js";
import { deriveCredentials, tokenKeys, unbundleKeys } from "./onepw.js";

const OAUTH_PARAMS = ["client_id", "scope", "state", "code_challenge", "code_challenge_method", "keys_jwk", "access_type", "response_type"];
const LINK_TIMEOUT_MS = 10 * 60 * 1000; // Firefox may ask the user (merge warning)
const OAUTH_LOGIN_TIMEOUT_MS = 120 * 1000; // Firefox exchanges the code and starts Sync

export class FlowStopped extends Error {}

// Step 0: the OAuth parameters Firefox put in our URL, or a new flow when
// they are missing or Firefox no longer has a flow (it restarted).
export async function oauthParameters(channel, query) {
  const given = Object.fromEntries(OAUTH_PARAMS.map(name => [name, query.get(name)]));
  if (given.client_id && given.scope && given.state && given.code_challenge && given.keys_jwk) {
    const { isActive } = await channel.send("fxaccounts:oauth_flow_is_active", {});
    if (isActive) {
      return {
        ...given,
        access_type: given.access_type || "offline",
        response_type: given.response_type || "code",
        code_challenge_method: given.code_challenge_method || "S256",
      };
    }
  }
  return channel.send("fxaccounts:oauth_flow_begin", { scopes: ["profile", SYNC_SCOPE] });
}

// Step 1: what Firefox knows (signed-in user, capabilities).
export function firefoxStatus(channel) {
  return channel.send("fxaccounts:fxa_status", { service: "sync", isPairing: false, context: "oauth_webchannel_v1" });
}

// Stretches the password and makes `call(email, credentials)`. Errno 120
// (the account was created with another letter case) is retried once with
// the email the server returns, since that email salts the stretching.
// Returns {email, result, unwrapBKey}; authPW is wiped.
export async function withCredentials(email, password, call) {
  let credentials = await deriveCredentials(email, password);
  try {
    try {
      return { email, result: await call(email, credentials), unwrapBKey: credentials.unwrapBKey };
    } catch (error) {
      if (error.errno != 120 || !error.email || error.email == email) {
        throw error;
      }
      wipe(credentials.authPW, credentials.unwrapBKey);
      credentials = await deriveCredentials(error.email, password);
      return { email: error.email, result: await call(error.email, credentials), unwrapBKey: credentials.unwrapBKey };
    }
  } catch (error) {
    wipe(credentials.unwrapBKey);
    throw error;
  } finally {
    wipe(credentials.authPW);
  }
}

// Step 5: kB from the single-use key fetch (kB = wrapKb XOR unwrapBKey).
export async function fetchKb(api, keyFetchToken, unwrapBKey) {
  const { bundle } = await api.accountKeys(keyFetchToken);
  const keyRequestKey = (await tokenKeys(fromHex(keyFetchToken), "keyFetchToken")).extra;
  const { kA, wrapKb } = await unbundleKeys(keyRequestKey, fromHex(bundle));
  const kB = xor(wrapKb, unwrapBKey);
  wipe(keyRequestKey, kA, wrapKb);
  return kB;
}

// Step 6: keys_jwe for Firefox's keys_jwk, holding the key of each
// key-bearing scope asked for (only oldsync is one).
async function buildKeysJwe(api, sessionToken, oauth, kB) {
  if (!oauth.scope.split(" ").includes(SYNC_SCOPE)) {
    return null;
  }
  const keyData = await api.scopedKeyData(sessionToken, oauth.scope);
  const rotation = keyData[SYNC_SCOPE];
  if (!rotation) {
    throw new FlowStopped("the server did not grant the Sync scope");
  }
  const key = await oldsyncKey(kB, rotation.keyRotationTimestamp);
  return encryptKeys(oauth.keys_jwk, { [SYNC_SCOPE]: key });
}

// Steps 2-9. `authenticate()`: steps 2-3 (stretch the password; create,
// log in or reset) -> {email, result: the API's answer, unwrapBKey};
// `confirm(sessionToken, email)`: resolves once the user confirmed an
// unconfirmed session with the mailed code (step 3b);
// `ui.progress(text)` shows how far it got. `action` goes to Firefox.
export async function connectFirefox({ api, channel, oauth, authenticate, confirm, action, ui }) {
  const { email, result: account, unwrapBKey } = await authenticate();
  let kB = null;
  try {
    const sessionToken = account.sessionToken;
    if (!account.verified && account.verificationMethod == "email-otp") {
      await confirm(sessionToken, email);
      account.verified = true;
    }
    if (!account.verified || !account.keyFetchToken) {
      throw new FlowStopped("The server did not confirm this sign-in.");
    }
    const link = await channel.send("fxaccounts:can_link_account", { email, uid: account.uid }, LINK_TIMEOUT_MS);
    if (!link || !link.ok) {
      throw new FlowStopped("Firefox declined to connect this account to this profile.");
    }
    ui.progress("Fetching your keys…");
    kB = await fetchKb(api, account.keyFetchToken, unwrapBKey);
    const keysJwe = await buildKeysJwe(api, sessionToken, oauth, kB);
    wipe(kB);
    ui.progress("Connecting Firefox…");
    await channel.send("fxaccounts:login", {
      uid: account.uid, email, sessionToken, verified: true, authAt: account.authAt, services: { sync: {} },
    });
    const authorization = await api.authorize(sessionToken, {
      client_id: oauth.client_id,
      state: oauth.state,
      scope: oauth.scope,
      access_type: oauth.access_type,
      response_type: oauth.response_type,
      code_challenge: oauth.code_challenge,
      code_challenge_method: oauth.code_challenge_method,
      ...(keysJwe ? { keys_jwe: keysJwe } : {}),
    });
    await channel.send("fxaccounts:oauth_login", {
      code: authorization.code, state: authorization.state || oauth.state, redirect: authorization.redirect, action,
    }, OAUTH_LOGIN_TIMEOUT_MS);
    return { email, uid: account.uid };
  } finally {
    wipe(unwrapBKey, kB);
  }
}
