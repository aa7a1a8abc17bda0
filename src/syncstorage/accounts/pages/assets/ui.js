// What both pages show: progress and errors in live regions that screen
// readers announce, and the words for the accounts errnos (spec §9).

const MESSAGES = {
  101: "An account with this email already exists. Sign in instead.",
  102: "There is no account with this email. Create one instead.",
  103: "Incorrect password.",
  104: "This account is not confirmed yet.",
  105: "Wrong or expired code. Check the latest mail, or send a new code.",
  107: "The server refused a value of this form.",
  110: "Your session has ended, or the reset code is wrong or used up.",
  125: "The server refused: sign-up may need an invitation code, or it is closed.",
  138: "This sign-in is not confirmed yet.",
  151: "The server could not send the confirmation mail. Your account is kept: sign in again later to get a code.",
};

export function describeError(error) {
  if (error.errno == 114 || error.errno == 201) {
    const wait = Number.isFinite(error.retryAfter) ? ` in ${Math.ceil(error.retryAfter)} seconds` : " later";
    return `Too many attempts. Try again${wait}.`;
  }
  if (error.name == "TimeoutError") {
    return "The server did not answer in time. Try again.";
  }
  return MESSAGES[error.errno] || error.message || String(error);
}

export class Messages {
  constructor(statusElement, errorElement) {
    this.status = statusElement; // role=status: polite
    this.error = errorElement; // role=alert: assertive
  }

  progress(text) {
    this.error.textContent = "";
    this.status.textContent = text;
  }

  fail(error) {
    this.status.textContent = "";
    this.error.textContent = typeof error == "string" ? error : describeError(error);
  }

  clear() {
    this.status.textContent = "";
    this.error.textContent = "";
  }
}

// Disables every control of `form` while `work` runs (aria-busy for
// assistive technology), then re-enables them.
export async function busy(form, work) {
  const controls = Array.from(form.elements);
  form.setAttribute("aria-busy", "true");
  controls.forEach(control => { control.disabled = true; });
  try {
    return await work();
  } finally {
    form.removeAttribute("aria-busy");
    controls.forEach(control => { control.disabled = false; });
  }
}

export const MIN_PASSWORD_LENGTH = 8;
export const MAX_PASSWORD_LENGTH = 1024; // bounded: PBKDF2 over a huge string would hang the page
