"""Driving the accounts pages (src/syncstorage/accounts/pages) in a real
Firefox: loading one in a tab and running the page's own JavaScript modules
there (Marionette's content context), as a person's Firefox would."""

from __future__ import annotations

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
