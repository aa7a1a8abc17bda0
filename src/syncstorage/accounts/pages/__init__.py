"""The web pages of the built-in accounts server (accounts spec §2.4, §2.5):
what Firefox opens in a tab to sign up, sign in and manage the account.

Static HTML, CSS and JavaScript modules shipped in this package, read once
when the routes are made and served from memory. The pages do the client
side of the protocol in the browser (password stretching, key fetch, kB,
keys_jwe) and talk to Firefox over its WebChannel, so every answer carries a
strict Content-Security-Policy: scripts and styles only from this origin,
no inline code, no framing (the WebChannel trusts the whole origin, §3.1).

The pages live at the origin's root: Firefox builds their URLs relative to
`identity.fxaccounts.remote.root` (§2.3), and the scripts call the auth API
at `/v1/...` on the same origin.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

HERE = Path(__file__).resolve().parent

Endpoint = Callable[[Request], Awaitable[Response]]

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "connect-src 'self'",  # the auth API
    "img-src 'self'",
    "form-action 'none'",  # forms are handled by the scripts, never posted
    "frame-ancestors 'none'",
    "base-uri 'none'",
])
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # the query holds the OAuth flow's state and Firefox's public key
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}

MEDIA_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}

# Firefox's paths that need no page of their own (§2.5): pairing and
# third-party sign-in are not offered, so they land on the sign-in page.
TO_SIGN_IN = ("/pair", "/oauth", "/post_verify/third_party_auth/set_password")


def _read_assets() -> dict[str, tuple[bytes, str]]:
    """{file name: (content, media type)} of assets/: the only files /assets/ serves."""
    return {
        path.name: (path.read_bytes(), MEDIA_TYPES[path.suffix])
        for path in sorted((HERE / "assets").iterdir())
        if path.suffix in MEDIA_TYPES
    }


def _page(name: str) -> Endpoint:
    """A route serving the HTML file `name`, never cached (it loads the
    scripts that handle passwords: a stale copy must not outlive an update)."""
    body = (HERE / name).read_bytes()

    async def page(request: Request) -> Response:
        return Response(body, media_type="text/html; charset=utf-8",
                        headers={**SECURITY_HEADERS, "Cache-Control": "no-store"})

    return page


def _redirect(to: str) -> Endpoint:
    async def redirect(request: Request) -> Response:
        query = request.url.query
        return RedirectResponse(to + (f"?{query}" if query else ""), status_code=303, headers=SECURITY_HEADERS)

    return redirect


async def _no_content(request: Request) -> Response:
    return Response(status_code=204, headers=SECURITY_HEADERS)


def page_routes() -> list[Route]:
    """The routes of the accounts pages, for the accounts app to mount at
    the origin's root. Only GET (and HEAD)."""
    assets = _read_assets()

    async def asset(request: Request) -> Response:
        found = assets.get(request.path_params["name"])
        if found is None:
            return Response(b"Not Found", status_code=404, media_type="text/plain", headers=SECURITY_HEADERS)
        content, media_type = found
        # revalidated on every load: a page never runs an old script with a new one
        return Response(content, media_type=media_type, headers={**SECURITY_HEADERS, "Cache-Control": "no-cache"})

    sign_in = _page("signin.html")
    settings = _page("settings.html")
    return [
        Route("/", sign_in, methods=["GET"]),
        Route("/signup", sign_in, methods=["GET"]),
        Route("/reset_password", sign_in, methods=["GET"]),
        Route("/settings", settings, methods=["GET"]),
        Route("/settings/clients", settings, methods=["GET"]),
        Route("/settings/avatar/change", _redirect("/settings"), methods=["GET"]),
        Route("/connect_another_device", _page("connect.html"), methods=["GET"]),
        *(Route(path, _redirect("/"), methods=["GET"]) for path in TO_SIGN_IN),
        Route("/metrics-flow", _no_content, methods=["GET"]),
        Route("/assets/{name}", asset, methods=["GET"]),
    ]
