// The account settings page Firefox opens from its menus (accounts spec
// §2.5, §7): devices, password change (kB kept), account deletion. It acts
// with the session token of the account signed in to this Firefox, which
// Firefox reports over the WebChannel (fxa_status).

import { AccountsAPI } from "./api.js";
import { fromHex, toHex, wipe, xor } from "./bytes.js";
import { FirefoxChannel } from "./channel.js";
import { fetchKb, firefoxStatus, withCredentials } from "./flow.js";
import { deriveCredentials, tokenKeys } from "./onepw.js";
import { busy, MAX_PASSWORD_LENGTH, Messages, MIN_PASSWORD_LENGTH } from "./ui.js";

const $ = id => document.getElementById(id);
const messages = new Messages($("status"), $("error"));
const api = new AccountsAPI();
const channel = new FirefoxChannel();
let user = null; // {uid, email, sessionToken, verified}

function signedOut() {
  user = null;
  $("account").hidden = true;
  $("signed-out").hidden = false;
}

// A 401 errno 110 means the session is gone (password changed elsewhere, account deleted).
function failed(error) {
  if (error.errno == 110) {
    signedOut();
  }
  messages.fail(error);
  $("error").focus();
}

async function listDevices() {
  const devices = await api.devices(user.sessionToken);
  const list = $("devices");
  list.replaceChildren();
  for (const device of devices) {
    const item = document.createElement("li");
    const name = document.createElement("span");
    name.textContent = `${device.name || "Unnamed device"}${device.isCurrentDevice ? " (this Firefox)" : ""}`;
    item.append(name);
    if (!device.isCurrentDevice) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "secondary";
      button.textContent = "Disconnect";
      button.setAttribute("aria-label", `Disconnect ${device.name || "unnamed device"}`);
      button.addEventListener("click", () => disconnect(device, button));
      item.append(button);
    }
    list.append(item);
  }
  if (!devices.length) {
    const item = document.createElement("li");
    item.textContent = "No devices yet.";
    list.append(item);
  }
}

async function disconnect(device, button) {
  button.disabled = true;
  try {
    await api.destroyDevice(user.sessionToken, device.id);
    await listDevices();
    messages.progress(`${device.name || "The device"} is disconnected.`);
    $("devices-heading").focus();
  } catch (error) {
    button.disabled = false;
    failed(error);
  }
}

function passwordProblem(password, confirmation) {
  if (password.length < MIN_PASSWORD_LENGTH || password.length > MAX_PASSWORD_LENGTH) {
    return `The new password needs ${MIN_PASSWORD_LENGTH} to ${MAX_PASSWORD_LENGTH} characters.`;
  }
  return password == confirmation ? null : "The two new passwords differ.";
}

// §7.1: the old password unlocks kB, the new one wraps the same kB, so the
// synced data stays readable; Firefox gets the new session token.
async function changePassword(event) {
  event.preventDefault();
  const form = event.target;
  const problem = passwordProblem($("new-password").value, $("new-password-confirm").value);
  if (problem) {
    messages.fail(problem);
    $("new-password").focus();
    return;
  }
  let kB = null, newCredentials = null, unwrapBKey = null;
  try {
    await busy(form, async () => {
      messages.progress("Changing the password…");
      const started = await withCredentials(user.email, $("old-password").value,
        (email, credentials) => api.passwordChangeStart(user.sessionToken, email, credentials.authPW));
      unwrapBKey = started.unwrapBKey;
      kB = await fetchKb(api, started.result.keyFetchToken, unwrapBKey);
      newCredentials = await deriveCredentials(started.email, $("new-password").value);
      const sessionId = (await tokenKeys(fromHex(user.sessionToken), "sessionToken")).id;
      const finished = await api.passwordChangeFinish(started.result.passwordChangeToken, {
        authPW: toHex(newCredentials.authPW),
        wrapKb: toHex(xor(kB, newCredentials.unwrapBKey)),
        sessionToken: toHex(sessionId),
      });
      const sessionToken = finished.sessionToken || user.sessionToken;
      await channel.send("fxaccounts:change_password", { uid: user.uid, email: user.email, sessionToken, verified: true });
      user = { ...user, sessionToken };
      form.reset();
      messages.progress("The password is changed. Your other devices will ask you to sign in again.");
    });
  } catch (error) {
    failed(error);
  } finally {
    wipe(kB, unwrapBKey, newCredentials && newCredentials.authPW, newCredentials && newCredentials.unwrapBKey);
  }
}

// §7.4: deleted on the server with the password, then signed out in Firefox.
async function deleteAccount(event) {
  event.preventDefault();
  const form = event.target;
  if (!$("delete-confirm").checked) {
    messages.fail("Tick the box to confirm.");
    $("delete-confirm").focus();
    return;
  }
  try {
    await busy(form, async () => {
      messages.progress("Deleting the account…");
      const done = await withCredentials(user.email, $("delete-password").value,
        (email, credentials) => api.destroyAccount(email, credentials.authPW));
      wipe(done.unwrapBKey);
      channel.notify("fxaccounts:delete", { uid: user.uid });
      form.reset();
      $("account").hidden = true;
      messages.progress("The account is deleted; this Firefox signs out.");
    });
  } catch (error) {
    failed(error);
  }
}

async function load() {
  const status = await firefoxStatus(channel);
  if (!status.signedInUser || !status.signedInUser.sessionToken) {
    messages.clear();
    signedOut();
    return;
  }
  user = status.signedInUser;
  $("account-email").textContent = user.email;
  $("account").hidden = false;
  await listDevices();
  messages.clear();
  if (location.pathname == "/settings/clients") {
    $("devices-heading").focus();
  }
}

$("password-form").addEventListener("submit", changePassword);
$("delete-form").addEventListener("submit", deleteAccount);
load().catch(failed);
