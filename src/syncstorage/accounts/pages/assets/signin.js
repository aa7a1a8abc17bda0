// The sign-in / sign-up page Firefox opens (accounts spec §2.4): the DOM
// side of flow.js. `/` signs in, `/signup` creates an account; both keep
// Firefox's query (the OAuth flow's parameters).

import { AccountsAPI } from "./api.js";
import { FirefoxChannel } from "./channel.js";
import { connectFirefox, firefoxStatus, oauthParameters } from "./flow.js";
import { busy, MAX_PASSWORD_LENGTH, Messages, MIN_PASSWORD_LENGTH, nextSubmit } from "./ui.js";

const $ = id => document.getElementById(id);
const mode = location.pathname == "/signup" ? "signup" : "signin";
const query = new URLSearchParams(location.search);
const form = $("account-form");
const messages = new Messages($("status"), $("error"));
const api = new AccountsAPI();
const channel = new FirefoxChannel();
let oauth = null;

function showMode() {
  const signup = mode == "signup";
  document.title = signup ? "Create an account — Firefox Sync" : "Sign in — Firefox Sync";
  $("heading").textContent = signup ? "Create a Firefox Sync account" : "Sign in to Firefox Sync";
  $("submit").textContent = signup ? "Create account" : "Sign in";
  $("confirm-row").hidden = !signup;
  $("password-confirm").required = signup;
  $("password").autocomplete = signup ? "new-password" : "current-password";
  $("password-hint").hidden = !signup;
  const other = signup ? "/" : "/signup";
  $("switch-mode").href = other + location.search;
  $("switch-mode").textContent = signup ? "I already have an account: sign in" : "Create an account";
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
  if (password.length < MIN_PASSWORD_LENGTH || password.length > MAX_PASSWORD_LENGTH) {
    return ["password", `The password needs ${MIN_PASSWORD_LENGTH} to ${MAX_PASSWORD_LENGTH} characters.`];
  }
  if (mode == "signup" && password != $("password-confirm").value) {
    return ["password-confirm", "The two passwords differ."];
  }
  return null;
}

async function askCode() {
  $("code-form").hidden = false;
  messages.progress("We sent you a confirmation code by email. Enter it to continue.");
  $("code").focus();
  const code = await nextSubmit($("code-form"), $("code"));
  $("code-form").hidden = true;
  return code;
}

async function submit(event) {
  event.preventDefault();
  const problem = checkInput();
  if (problem) {
    messages.fail(problem[1]);
    $(problem[0]).setAttribute("aria-invalid", "true");
    $(problem[0]).focus();
    return;
  }
  form.querySelectorAll("[aria-invalid]").forEach(input => input.removeAttribute("aria-invalid"));
  const input = { mode, email: $("email").value.trim(), password: $("password").value };
  try {
    await busy(form, async () => {
      if (!oauth) {
        await prepare();
      }
      const done = await connectFirefox({ api, channel, oauth, input, ui: { progress: text => messages.progress(text), askCode } });
      $("password").value = $("password-confirm").value = "";
      messages.clear();
      form.hidden = true;
      $("switch-mode").hidden = true;
      $("connected-email").textContent = done.email;
      $("connected").hidden = false;
      $("connected-heading").focus();
    });
  } catch (error) {
    // A flow Firefox no longer knows (restart, another tab) starts afresh.
    oauth = null;
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
