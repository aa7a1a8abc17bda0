"""Driving the accounts pages (src/syncstorage/accounts/pages) in a real
Firefox: loading one in a tab and running the page's own JavaScript modules
there (Marionette's content context), as a person's Firefox would."""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Any, Iterator

from firefox.browser import SCRIPT_TIMEOUT, Firefox, FirefoxError


@contextmanager
def content(firefox: Firefox) -> Iterator[Any]:
    """Marionette switched to the selected tab's content for the block."""
    client = firefox.client
    client.set_context(client.CONTEXT_CONTENT)
    try:
        yield client
    finally:
        client.set_context(client.CONTEXT_CHROME)


def run_in_page(firefox: Firefox, body: str, *args: Any, timeout: float = SCRIPT_TIMEOUT) -> Any:
    """Run `body` as an async function on the test harness page
    (harness/harness.html), with the page's modules as `m.<name>` (bytes,
    hawk, keys, onepw) and `args` as `args`; returns its result as JSON.

    The script runs in Marionette's sandbox: it reaches the page's objects
    through `window.wrappedJSObject`, and hands the page objects it made
    itself through `C(value)` (a copy made by the page's own JSON)."""
    script = f"""
        const resolve = arguments[arguments.length - 1];
        const args = Array.from(arguments).slice(0, -1);
        const page = window.wrappedJSObject;
        const m = page.pages;
        const C = value => page.JSON.parse(JSON.stringify(value));
        (async () => {{ {body} }})().then(
            value => resolve({{value: value === undefined ? null : JSON.parse(JSON.stringify(value))}}),
            error => resolve({{error: String(error) + "\\n" + (error && error.stack || "")}}));
    """
    with content(firefox) as client:
        answer = client.execute_async_script(script, script_args=list(args), script_timeout=int(timeout * 1000))
    if "error" in answer:
        raise FirefoxError(f"page script threw: {answer['error']}")
    return answer.get("value")


def open_page(firefox: Firefox, url: str) -> None:
    """Load `url` in the selected tab (as typing it in the address bar)."""
    with content(firefox) as client:
        client.navigate(url)


PAGE_TIMEOUT = 60.0  # the page loaded and its first WebChannel exchange done
CONNECT_TIMEOUT = 180.0  # submit -> Firefox connected (PBKDF2, API calls, code exchange)
FIRST_SYNC_TIMEOUT = 180.0


def _wait(what: str, check, timeout: float, failure=lambda: None):
    """Poll `check()` until it returns something truthy, at most `timeout`
    seconds; `failure()` returning a text ends the wait early with it."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        problem = failure()
        if problem:
            raise FirefoxError(f"{what}: {problem}")
        if time.monotonic() > deadline:
            raise FirefoxError(f"{what}: not within {timeout:.0f}s")
        time.sleep(0.1)


def _page_error(client) -> str | None:
    """The error the page shows, once none of its forms is busy any more."""
    text = client.execute_script("""
        const error = document.getElementById("error");
        return error && !document.querySelector("form[aria-busy]") ? error.textContent : "";
    """)
    return text or None


def _ready(client) -> bool:
    return client.execute_script('const b = document.getElementById("submit"); return Boolean(b && !b.disabled);')


def _selected_url(firefox: Firefox) -> str:
    return firefox.run('return Services.wm.getMostRecentWindow("navigator:browser").gBrowser.currentURI.spec;')


def _switch_to_selected_tab(firefox: Firefox, url_prefix: str, what: str) -> None:
    """Marionette to the selected tab, once it shows a URL under `url_prefix`
    (Firefox opened or reused a tab for it; older tabs of ours may be open)."""
    url = _wait(what, lambda: (lambda u: u if u.startswith(url_prefix) else None)(_selected_url(firefox)),
                PAGE_TIMEOUT)
    with content(firefox) as client:
        for handle in client.window_handles:
            client.switch_to_window(handle, focus=False)
            if client.get_url() == url:
                return
    raise FirefoxError(f"{what}: no tab has {url}")


def open_sign_in_page(firefox: Firefox, accounts_url: str) -> str:
    """Do what "Sign in to sync" in Firefox's menu does (gSync.openFxAEmailFirstPage:
    autoconfig, a new OAuth flow, our page in a tab), switch Marionette to
    that tab and wait until the page has talked to Firefox. Returns its URL."""
    firefox.run("""
        const win = Services.wm.getMostRecentWindow("navigator:browser");
        await win.gSync.openFxAEmailFirstPage("preferences");
    """)
    _switch_to_selected_tab(firefox, accounts_url + "/?", "a tab with the sign-in page")
    with content(firefox) as client:
        _wait("the sign-in page ready", lambda: _ready(client), PAGE_TIMEOUT, lambda: _page_error(client))
        return client.get_url()


def submit_account_form(firefox: Firefox, email: str, password: str, *, mode: str = "/",
                        reset_code: str | None = None) -> None:
    """Type into the open sign-in page as a person would (keys into the
    labelled fields), after following its link to `mode` ("/signup" creates
    an account, "/reset_password" sets a new password with `reset_code`)."""
    with content(firefox) as client:
        if mode != "/":
            client.find_element("css selector", f'a[data-mode="{mode}"]').click()
            _wait(f"the {mode} page ready", lambda: f"{mode}?" in client.get_url() and _ready(client), PAGE_TIMEOUT,
                  lambda: _page_error(client))
        client.find_element("id", "email").clear()
        client.find_element("id", "email").send_keys(email)
        if reset_code is not None:
            client.find_element("id", "reset-code").send_keys(reset_code)
        client.find_element("id", "password").send_keys(password)
        if mode != "/":
            client.find_element("id", "password-confirm").send_keys(password)
        client.find_element("id", "submit").click()


def wait_connected(firefox: Firefox) -> None:
    """Until the page says Firefox is connected; its error, if it shows one."""
    with content(firefox) as client:
        _wait("the page connecting Firefox",
              lambda: client.execute_script('return !document.getElementById("connected").hidden;'),
              CONNECT_TIMEOUT, lambda: _page_error(client))


def wait_first_sync(firefox: Firefox) -> None:
    """Until the sync Firefox starts by itself after connecting has succeeded."""
    _wait("Firefox's first sync",
          lambda: firefox.run('return Services.prefs.getStringPref("services.sync.lastSync", "");'),
          FIRST_SYNC_TIMEOUT)


def sign_in_through_page(firefox: Firefox, accounts_url: str, email: str, password: str, *, mode: str = "/",
                         reset_code: str | None = None) -> None:
    """The whole of it: "Sign in to sync", typing, Firefox connected."""
    open_sign_in_page(firefox, accounts_url)
    submit_account_form(firefox, email, password, mode=mode, reset_code=reset_code)
    wait_connected(firefox)


def open_settings_page(firefox: Firefox, accounts_url: str) -> None:
    """Firefox's "Manage account" (gSync.openFxAManagePage): our /settings
    in a tab, until it shows the account and its devices."""
    firefox.run("""
        await Services.wm.getMostRecentWindow("navigator:browser").gSync.openFxAManagePage("preferences");
    """)
    _switch_to_selected_tab(firefox, accounts_url + "/settings?", "a tab with the settings page")
    with content(firefox) as client:
        _wait("the settings page showing the account",
              lambda: client.execute_script('return !document.getElementById("account").hidden '
                                            '&& document.querySelectorAll("#devices li").length > 0;'),
              PAGE_TIMEOUT, lambda: _page_error(client))


def device_names(firefox: Firefox) -> list[str]:
    """The device list the settings page shows."""
    with content(firefox) as client:
        return client.execute_script(
            'return Array.from(document.querySelectorAll("#devices li span"), e => e.textContent);')


def disconnect_devices(firefox: Firefox) -> None:
    """Press every "Disconnect" button of the settings page's device list."""
    with content(firefox) as client:
        while buttons := client.find_elements("css selector", "#devices button"):
            count = len(buttons)
            buttons[0].click()
            _wait("a device disconnected", lambda: len(client.find_elements("css selector", "#devices button")) < count,
                  PAGE_TIMEOUT, lambda: _page_error(client))


def _submit_settings_form(firefox: Firefox, fields: dict[str, str], button_form: str, done_text: str) -> None:
    with content(firefox) as client:
        for field, value in fields.items():
            client.find_element("id", field).send_keys(value)
        client.find_element("css selector", f"#{button_form} button[type=submit]").click()
        _wait(f"{button_form} done", lambda: done_text in client.find_element("id", "status").text,
              CONNECT_TIMEOUT, lambda: _page_error(client))


def change_password(firefox: Firefox, old: str, new: str) -> None:
    """Change the password in the open settings page's form."""
    _submit_settings_form(firefox, {"old-password": old, "new-password": new, "new-password-confirm": new},
                          "password-form", "The password is changed")


def delete_account(firefox: Firefox, password: str) -> None:
    with content(firefox) as client:
        client.find_element("id", "delete-confirm").click()
    _submit_settings_form(firefox, {"delete-password": password}, "delete-form", "The account is deleted")


def wait_signed_out(firefox: Firefox) -> None:
    """Until Firefox has no account any more."""
    _wait("Firefox signed out", lambda: firefox.run("""
        const { getFxAccountsSingleton } = ChromeUtils.importESModule("resource://gre/modules/FxAccounts.sys.mjs");
        return !(await getFxAccountsSingleton().getSignedInUser());
    """), PAGE_TIMEOUT)


def confirm_with_code(firefox: Firefox, code: str) -> None:
    """Type the mailed confirmation code into the page's code form, once it
    shows, and press Enter (keyboard only, as a person would)."""
    with content(firefox) as client:
        _wait("the confirmation code form", lambda: client.execute_script(
            'const form = document.getElementById("code-form"); return !form.hidden && !form.hasAttribute("aria-busy");'),
            CONNECT_TIMEOUT, lambda: _page_error(client))
        label = client.find_element("css selector", 'label[for="code"]')
        assert label.text == "Confirmation code", label.text
        field = client.find_element("id", "code")
        field.clear()
        field.send_keys(code + "\ue007")  # Enter submits the form


def code_error_text(firefox: Firefox) -> str:
    """The error the page announces (role=alert) for the code typed, once
    the code form is no longer busy checking it; the field is then marked
    invalid and has the keyboard focus again."""
    with content(firefox) as client:
        return _wait("an error for the code", lambda: client.execute_script("""
            const form = document.getElementById("code-form");
            const field = document.getElementById("code");
            const ready = !form.hasAttribute("aria-busy") && field.getAttribute("aria-invalid") == "true"
                && document.activeElement == field;
            return ready && document.getElementById("error").textContent;
        """), PAGE_TIMEOUT)
