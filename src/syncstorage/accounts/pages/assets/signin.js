// The sign-in page Firefox opens (accounts spec §2.4): the DOM side of
// flow.js. Three modes on one page, chosen by the path: `/` signs in,
// `/signup` creates an account, `/reset_password` sets a new password with
// a reset code (a new kB: Firefox starts a fresh sync). Each keeps
// Firefox's query, which carries the OAuth flow's parameters.

import { AccountsAPI } from "./api.js";
import { FirefoxChannel } from "./channel.js";
import { connectFirefox, firefoxStatus, oauthParameters, withCredentials } from "./flow.js";
import { busy, MAX_PASSWORD_LENGTH, Messages, MIN_PASSWORD_LENGTH } from "./ui.js";

const $ = id => document.getElementById(id);
const MODES = {
  "/": {
    title: "Sign in", heading: "Sign in to Firefox Sync", submit: "Sign in", action: "signin",
    call: (api, email, credentials) => api.login(email, credentials.authPW),
    progress: "Checking your password…",
  },
  "/signup": {
    title: "Create an account", heading: "Create a Firefox Sync account", submit: "Create account", action: "signup",
    fields: ["confirm-row", "invite-row", "password-hint"], newPassword: true,
    call: (api, email, credentials) => api.createAccount(email, credentials.authPW, $("invite").value.trim()),
    progress: "Creating your account…",
  },
  "/reset_password": {
    title: "Reset the password", heading: "Set a new password", submit: "Set password", action: "signin",
    fields: ["confirm-row", "reset-row", "reset-hint", "password-hint"], newPassword: true,
    call: (api, email, credentials) => api.resetAccount($("reset-code").value.trim().toLowerCase(), email, credentials.authPW),
    progress: "Setting the new password…",
  },
};
const mode = MODES[location.pathname] || MODES["/"];
const query = new URLSearchParams(location.search);
const form = $("account-form");
const messages = new Messages($("status"), $("error"));
const api = new AccountsAPI();
const channel = new FirefoxChannel();
let oauth = null;

function showMode() {
  document.title = `${mode.title} — Firefox Sync`;
  $("heading").textContent = mode.heading;
  $("submit").textContent = mode.submit;
  for (const id of mode.fields || []) {
    $(id).hidden = false;
  }
  $("password-confirm").required = Boolean(mode.newPassword);
  $("password").autocomplete = mode.newPassword ? "new-password" : "current-password";
  $("password-label").textContent = mode.newPassword ? "New password" : "Password";
  // The other modes, with Firefox's query kept.
  for (const link of document.querySelectorAll("a[data-mode]")) {
    link.href = link.dataset.mode + location.search;
    link.parentElement.hidden = link.dataset.mode == location.pathname;
  }
  $("invite").value = query.get("invite") || "";
}

// Steps 0 and 1 at load: the OAuth flow and what Firefox knows.
async function prepare() {
  oauth = await oauthParameters(channel, query);
  const status = await firefoxStatus(channel);
  const known = query.get("email") || (status.signedInUser && status.signedInUser.email);
  if (known && !$("email").value) {
    $("email").value = known;
  }
}

function checkInput() {
  const email = $("email").value.trim();
  const password = $("password").value;
  if (!email || !email.includes("@") || email.length > 255) {
    return ["email", "Enter your email address."];
  }
  if (mode == MODES["/reset_password"] && !/^[0-9a-fA-F]{64}$/.test($("reset-code").value.trim())) {
    return ["reset-code", "The reset code is the 64 characters the server's administrator gave you."];
  }
  if (password.length < MIN_PASSWORD_LENGTH || password.length > MAX_PASSWORD_LENGTH) {
    return ["password", `The password needs ${MIN_PASSWORD_LENGTH} to ${MAX_PASSWORD_LENGTH} characters.`];
  }
  if (mode.newPassword && password != $("password-confirm").value) {
    return ["password-confirm", "The two passwords differ."];
  }
  return null;
}

// Step 3b, when the server mails a code (verificationMethod "email-otp"):
// resolves once it accepted the code typed; "Send a new code" asks for another.
function confirmByCode(sessionToken, email) {
  const codeForm = $("code-form");
  const input = $("code");
  $("code-email").textContent = email;
  form.hidden = true;
  codeForm.hidden = false;
  messages.progress("Check your mail for the confirmation code.");
  $("code-heading").focus();
  return new Promise(resolve => {
    async function check(event) {
      event.preventDefault();
      input.removeAttribute("aria-invalid");
      const code = input.value.trim();
      if (!/^[0-9]{4,16}$/.test(code)) {
        messages.fail("Type the code from the mail: digits only.");
        input.setAttribute("aria-invalid", "true");
        input.focus();
        return;
      }
      try {
        messages.progress("Checking the code…");
        await busy(codeForm, () => api.verifyCode(sessionToken, code));
      } catch (error) {
        messages.fail(error);
        input.setAttribute("aria-invalid", "true");
        input.focus();
        return;
      }
      codeForm.removeEventListener("submit", check);
      $("code-resend").removeEventListener("click", resend);
      codeForm.reset();
      codeForm.hidden = true;
      resolve();
    }
    async function resend() {
      try {
        await busy(codeForm, () => api.resendCode(sessionToken));
        messages.progress("A new code was sent: the one before no longer works.");
      } catch (error) {
        messages.fail(error);
      }
      input.focus();
    }
    codeForm.addEventListener("submit", check);
    $("code-resend").addEventListener("click", resend);
  });
}

async function submit(event) {
  event.preventDefault();
  form.querySelectorAll("[aria-invalid]").forEach(input => input.removeAttribute("aria-invalid"));
  const problem = checkInput();
  if (problem) {
    messages.fail(problem[1]);
    $(problem[0]).setAttribute("aria-invalid", "true");
    $(problem[0]).focus();
    return;
  }
  const email = $("email").value.trim();
  const password = $("password").value;
  try {
    await busy(form, async () => {
      if (!oauth) {
        await prepare();
      }
      messages.progress(mode.progress);
      const done = await connectFirefox({
        api, channel, oauth, action: mode.action, ui: messages, confirm: confirmByCode,
        authenticate: () => withCredentials(email, password, (email, credentials) => mode.call(api, email, credentials)),
      });
      form.reset();
      messages.clear();
      form.hidden = true;
      $("other-modes").hidden = true;
      $("connected-email").textContent = done.email;
      $("connected").hidden = false;
      $("connected-heading").focus();
    });
  } catch (error) {
    // A flow Firefox no longer knows (restart, another tab) starts afresh.
    oauth = null;
    $("code-form").hidden = true;
    form.hidden = false;
    messages.fail(error);
    $("error").focus();
  }
}

showMode();
form.addEventListener("submit", submit);
prepare().then(
  () => { $("submit").disabled = false; },
  error => {
    messages.fail(`This page talks to Firefox: open it from Firefox's “Sign in to sync” menu. (${error.message})`);
  },
);
