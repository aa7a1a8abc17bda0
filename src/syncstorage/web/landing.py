"""The landing page at the public URL's root: what this server is, whether
it is healthy, and what to put in Firefox (issue 16).

For someone who opens the server's address in a browser. It shows no user
data: only the version, the checks the heartbeat runs, and values derived
from the settings. Plain HTML and CSS built here (the values are escaped),
one small script for the copy button, all served from this origin under a
strict Content-Security-Policy; the page works without the script.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from html import escape
from importlib.resources import files
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from syncstorage import __version__
from syncstorage.settings import Settings
from syncstorage.web.prefix import public_url_prefix

if TYPE_CHECKING:
    from syncstorage.web.ops import SharedCheck

ASSETS_PATH = "/site"

# Nothing but this origin's own stylesheet and script; no framing, no plugins.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
Endpoint = Callable[[Request], Awaitable[Response]]
_ASSET_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}


def landing_routes(
    settings: Settings, database: SharedCheck, nonce_store: SharedCheck, sign_in: Endpoint | None = None
) -> list[Route]:
    """`sign_in`: the built-in accounts' sign-in page, which Firefox opens at
    the root with its query (accounts spec §2.4); a bare `/` is this page."""
    page = _Page(settings)
    assets = {
        name: (resource.read_bytes(), _ASSET_TYPES[name[name.rindex(".") :]])
        for resource in files("syncstorage.web").joinpath("site").iterdir()
        if (name := resource.name)[name.rfind(".") :] in _ASSET_TYPES
    }

    async def landing(request: Request) -> Response:
        if sign_in is not None and request.url.query:
            return await sign_in(request)
        # shared with the heartbeat: a page view never starts a second check;
        # both at once, so a page waits at most one check's bound, not two
        problems = list(await asyncio.gather(database.problem(), nonce_store.problem()))
        body = page.render(problems)
        headers = {**SECURITY_HEADERS, "Cache-Control": "no-store"}
        return Response(body, media_type="text/html; charset=utf-8", headers=headers)

    async def asset(request: Request) -> Response:
        found = assets.get(request.path_params["name"])
        if found is None:
            return Response(b"0", status_code=404, media_type="application/json")
        content, media_type = found
        return Response(content, media_type=media_type, headers={"X-Content-Type-Options": "nosniff"})

    return [
        Route("/", landing, methods=["GET"]),
        Route(ASSETS_PATH + "/{name}", asset, methods=["GET"]),
    ]


class _Page:
    """The page's HTML; everything but the health lines is fixed at start."""

    def __init__(self, settings: Settings) -> None:
        public_url = settings.effective_public_url.rstrip("/")
        self.prefix = escape(public_url_prefix(public_url))
        self.tokenserver_uri = settings.tokenserver_uri if settings.tokenserver_enabled else None
        self.public_url = public_url
        self.accounts_url = settings.effective_accounts_public_url.rstrip("/") if settings.accounts_enabled else None
        self.signup = settings.accounts_signup

    def render(self, problems: list[str | None]) -> str:
        database, nonce_store = problems
        return _TEMPLATE.format(
            version=escape(__version__),
            prefix=self.prefix,
            database=_status(database),
            nonce_store=_status(nonce_store),
            setup=self._setup(),
        )

    def _setup(self) -> str:
        if self.accounts_url is not None:
            return _ACCOUNTS_SETUP.format(url=escape(self.accounts_url), signup=_SIGNUP[self.signup])
        if self.tokenserver_uri is None:
            return (
                "<p>This process serves storage only: Firefox reaches it through the "
                "tokenserver that assigned it as a storage node, whose own page "
                "shows what to set.</p>"
            )
        return _SETUP.format(uri=escape(self.tokenserver_uri), root=escape(self.public_url))


def _status(problem: str | None) -> str:
    if problem is None:
        return '<strong class="ok">OK</strong>'
    # the check's first line (a driver or Redis message, never request data)
    return f'<strong class="bad">unavailable</strong> <span class="detail">({escape(problem)})</span>'


_TEMPLATE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Firefox Sync server</title>
<link rel="stylesheet" href="{prefix}/site/landing.css">
</head>
<body>
<main>
<h1>Firefox Sync server</h1>
<p>This is a self-hosted Firefox Sync server (syncstorage {version}): it keeps the
bookmarks, history, passwords, open tabs and add-ons of the Firefox browsers
pointed at it, encrypted on each device before they are sent here.</p>

<section aria-labelledby="status">
<h2 id="status">Status</h2>
<ul>
<li>Database: {database}</li>
<li>Nonce store (replay protection): {nonce_store}</li>
</ul>
</section>

{setup}
</main>
<script src="{prefix}/site/copy.js"></script>
</body>
</html>
"""

_SETUP = """<section aria-labelledby="setup">
<h2 id="setup">Use it from Firefox</h2>
<p>Set this value <strong>before</strong> signing in to Sync on a device (if
it is signed in already: sign out, set it, sign in again).</p>
<p class="value"><code id="tokenserver-uri">{uri}</code>
<button type="button" class="copy" data-copy="tokenserver-uri" hidden>Copy</button>
<span class="copied" role="status"></span></p>

<h3>Firefox desktop</h3>
<ol>
<li>Open <code>about:config</code> and accept the warning.</li>
<li>Search for <code>identity.sync.tokenserver.uri</code> and set it to the value above.</li>
<li>Settings → Sync: sign in.</li>
</ol>

<h3>Firefox for Android</h3>
<ol>
<li>Settings → About Firefox: tap the Firefox logo five times until “Debug menu enabled” appears.</li>
<li>Back in Settings → Sync Debug: choose the custom Sync server and enter the value above. Firefox restarts.</li>
<li>Sign in to Sync.</li>
</ol>

<h3>Firefox for iOS</h3>
<ol>
<li>Settings: tap the version number at the bottom five times.</li>
<li>Advanced Sync settings: turn on the custom account service and enter
<code>{root}</code> as the Sync token server (without the <code>/1.0/sync/1.5</code> ending).</li>
<li>Sign in to Sync.</li>
</ol>
</section>"""

# Who may create an account here (`accounts_signup`), told to the visitor
_SIGNUP = {
    "open": "Anyone can create an account from Firefox's sign-in page.",
    "invite": "Creating an account needs an invitation code from whoever runs this server.",
    "closed": "Accounts are created by whoever runs this server.",
}

# With the built-in accounts on, Firefox needs one setting: the accounts
# server (autoconfig), which also gives it the tokenserver (docs/accounts.md).
_ACCOUNTS_SETUP = """<section aria-labelledby="setup">
<h2 id="setup">Use it from Firefox</h2>
<p>This server is also the accounts server: no Mozilla account is needed.
{signup} Point Firefox at it <strong>before</strong> signing in (if it is
signed in already: sign out first).</p>
<p class="value"><code id="accounts-url">{url}</code>
<button type="button" class="copy" data-copy="accounts-url" hidden>Copy</button>
<span class="copied" role="status"></span></p>

<h3>Firefox desktop</h3>
<ol>
<li>Open <code>about:config</code> and accept the warning.</li>
<li>Set <code>identity.fxaccounts.autoconfig.uri</code> to the value above
(for a server on plain <code>http://</code> also set <code>identity.fxaccounts.allowHttp</code> to true).</li>
<li>Settings → Sync: sign in, or create an account, on the page that opens.</li>
</ol>

<h3>Firefox for Android</h3>
<ol>
<li>Settings → About Firefox: tap the Firefox logo five times until “Debug menu enabled” appears.</li>
<li>Back in Settings → Sync Debug: set the custom Mozilla account server to the value above. Firefox restarts.</li>
<li>Sign in to Sync.</li>
</ol>

<h3>Firefox for iOS</h3>
<ol>
<li>Settings: tap the version number at the bottom five times.</li>
<li>Advanced Sync settings: turn on the custom account service and enter the value above as the account content server.</li>
<li>Sign in to Sync.</li>
</ol>
</section>"""
