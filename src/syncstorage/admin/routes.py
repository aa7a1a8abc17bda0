"""The admin page's routes, each behind the sign-in (admin/signin.py):
a page needs a session, an action also a POSTed form with its CSRF token.

Every refusal is an HTML page with a 4xx status and one log line (the
request's reason); a database that is away is a 503, never a 500.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from html import escape
from importlib.resources import files

import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from syncstorage.admin import accounts, activity_page, nodes, operations, users
from syncstorage.admin.context import AdminContext
from syncstorage.admin.page import Refusal, csrf_field, html_response, read_form, redirect
from syncstorage.admin.signin import (
    SESSION_COOKIE,
    SESSION_SECONDS,
    SIGNIN_COOKIE,
    SIGNIN_FORM_SECONDS,
    Cookies,
    FailedAttempts,
    Session,
    Sessions,
    SignInForms,
    client_address,
    require_csrf,
    same_secret,
)
from syncstorage.logs import one_line
from syncstorage.storage import StorageError
from syncstorage.tokenhash import MAX_TOKEN_CHARACTERS, TokenHash

log = logging.getLogger("syncstorage.admin")

Page = Callable[[AdminContext, Request, Session], Awaitable[Response]]
Action = Callable[[AdminContext, Request, Session, dict[str, str]], Awaitable[Response]]
RETRY_AFTER = "10"  # seconds, for a database that is away or too many sign-ins at once
# Each token check holds 32 MiB for tens of milliseconds: at most this many
# at once, and a sign-in waits at most VERIFY_WAIT seconds for its turn.
MAX_CONCURRENT_VERIFICATIONS = 2
VERIFY_WAIT = 5.0


class AdminRoutes:
    def __init__(self, ctx: AdminContext, *, secure_cookies: bool) -> None:
        self.ctx = ctx
        self.token = TokenHash(ctx.settings.admin_token or "")
        self.sessions = Sessions(ctx.storage)
        self.failures = FailedAttempts()
        self.verifying = asyncio.Semaphore(MAX_CONCURRENT_VERIFICATIONS)
        self.sign_in_forms = SignInForms(ctx.settings.master_secret[-1] if ctx.settings.master_secret else None)
        self.cookies = Cookies(ctx.layout.base, secure_cookies)
        self.stylesheet = files("syncstorage.admin").joinpath("site", "admin.css").read_bytes()

    def routes(self) -> list[Route]:
        base = self.ctx.settings.admin_path
        return [
            Route(base, self._home, methods=["GET"]),
            Route(base + "/", self._home, methods=["GET"]),
            Route(base + "/admin.css", self._css, methods=["GET"]),
            Route(base + "/sign-in", self._guarded(self._sign_in_form), methods=["GET"]),
            Route(base + "/sign-in", self._guarded(self._sign_in), methods=["POST"]),
            Route(base + "/sign-out", self._guarded(self._sign_out), methods=["POST"]),
            Route(base + "/users", self._page(users.user_list), methods=["GET"]),
            Route(base + "/users/{uid:int}", self._page(users.user_detail), methods=["GET"]),
            Route(base + "/users/{uid:int}/delete", self._action(users.delete_user_data), methods=["POST"]),
            *(self._account_routes() if self.ctx.removal is not None else []),
            Route(base + "/nodes", self._page(nodes.node_list), methods=["GET"]),
            Route(base + "/nodes/{action}", self._action(nodes.node_action), methods=["POST"]),
            Route(base + "/activity", self._page(activity_page.activity), methods=["GET"]),
            Route(base + "/operations", self._page(operations.operations), methods=["GET"]),
            Route(base + "/operations/purge", self._action(operations.purge_now), methods=["POST"]),
        ]

    def _account_routes(self) -> list[Route]:
        base = self.ctx.settings.admin_path + "/accounts"
        return [
            Route(base, self._page(accounts.account_list), methods=["GET"]),
            Route(base + "/invite", self._action(accounts.invite), methods=["POST"]),
            Route(base + "/{uid}", self._page(accounts.account_detail), methods=["GET"]),
            Route(base + "/{uid}/reset", self._action(accounts.reset_password), methods=["POST"]),
            Route(base + "/{uid}/disable", self._action(accounts.disable), methods=["POST"]),
            Route(base + "/{uid}/enable", self._action(accounts.enable), methods=["POST"]),
            Route(base + "/{uid}/delete", self._action(accounts.delete), methods=["POST"]),
        ]

    # --- guards ---
    def _guarded(self, handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        """Refusals and an unavailable database as error pages."""

        async def endpoint(request: Request) -> Response:
            try:
                return await handler(request)
            except Refusal as refusal:
                return self._error_page(request, refusal)
            except (StorageError, sa.exc.SQLAlchemyError) as exc:  # busy or away
                away = Refusal(503, one_line("admin: database unavailable", exc), {"Retry-After": RETRY_AFTER})
                return self._error_page(request, away)

        return endpoint

    async def _session(self, request: Request) -> Session | None:
        return await run_in_threadpool(self.sessions.find, request.cookies.get(SESSION_COOKIE))

    def _page(self, page: Page) -> Callable[[Request], Awaitable[Response]]:
        async def handler(request: Request) -> Response:
            session = await self._session(request)
            if session is None:
                return redirect(self.ctx.layout.url("/sign-in"))
            return await page(self.ctx, request, session)

        return self._guarded(handler)

    def _action(self, action: Action) -> Callable[[Request], Awaitable[Response]]:
        async def handler(request: Request) -> Response:
            session = await self._session(request)
            if session is None:
                raise Refusal(403, "admin action without a session")
            form = await read_form(request)
            require_csrf(form, session.csrf)
            return await action(self.ctx, request, session, form)

        return self._guarded(handler)

    def _error_page(self, request: Request, refusal: Refusal) -> Response:
        request.state.reason = refusal.reason  # the request line is the one log line
        body = f'<p>{escape(refusal.reason)}.</p><p><a href="{escape(self.ctx.layout.url("/users"))}">Back to the admin page</a></p>'
        page = self.ctx.layout.render(f"Error {refusal.status}", body)
        return html_response(page, refusal.status, refusal.headers)

    # --- the pages outside the sign-in ---
    async def _home(self, request: Request) -> Response:
        return redirect(self.ctx.layout.url("/users"))

    async def _css(self, request: Request) -> Response:
        return Response(self.stylesheet, media_type="text/css; charset=utf-8", headers={"X-Content-Type-Options": "nosniff"})

    async def _sign_in_form(self, request: Request, *, status: int = 200, problem: str = "") -> Response:
        given = request.cookies.get(SIGNIN_COOKIE)
        csrf = given if given is not None and self.sign_in_forms.valid(given) else self.sign_in_forms.new()
        message = f'<p class="notice bad" role="alert">{escape(problem)}</p>' if problem else ""
        body = f"""{message}<form method="post" action="{escape(self.ctx.layout.url("/sign-in"))}" class="sign-in">{csrf_field(csrf)}
<p><label for="token">Admin token</label><br>
<input id="token" name="token" type="password" autocomplete="current-password" required maxlength="{MAX_TOKEN_CHARACTERS}" autofocus></p>
<button type="submit">Sign in</button>
</form>
<p>The token whose hash is the <code>admin_token</code> setting (<code>syncstorage admin hash-token</code>).</p>"""
        response = html_response(self.ctx.layout.render("Sign in", body), status)
        self.cookies.set(response, SIGNIN_COOKIE, csrf, SIGNIN_FORM_SECONDS)
        return response

    async def _sign_in(self, request: Request) -> Response:
        address = client_address(request)
        wait = self.failures.wait(address)
        if wait:
            raise Refusal(429, f"admin sign-in: too many failed attempts from {address}", {"Retry-After": str(wait)})
        form = await read_form(request)
        given = form.get("csrf")
        if not (self.sign_in_forms.valid(given) and same_secret(given, request.cookies.get(SIGNIN_COOKIE) or "")):
            raise Refusal(403, "admin sign-in without the right CSRF token")
        if not await self._token_matches(form.get("token", "")):
            self.failures.record(address)
            request.state.reason = f"admin sign-in refused: wrong token from {address}"
            return await self._sign_in_form(request, status=403, problem="That is not the admin token.")
        raw, session = await run_in_threadpool(self.sessions.create)
        log.info("admin sign-in from %s: session %s", address, session.who)
        response = redirect(self.ctx.layout.url("/users"))
        self.cookies.set(response, SESSION_COOKIE, raw, SESSION_SECONDS)
        self.cookies.clear(response, SIGNIN_COOKIE)
        return response

    async def _token_matches(self, token: str) -> bool:
        try:
            await asyncio.wait_for(self.verifying.acquire(), VERIFY_WAIT)
        except TimeoutError:
            raise Refusal(503, "admin sign-in: too many sign-ins at once", {"Retry-After": RETRY_AFTER}) from None
        try:
            return await run_in_threadpool(self.token.matches, token)
        finally:
            self.verifying.release()

    async def _sign_out(self, request: Request) -> Response:
        session = await self._session(request)
        if session is not None:
            form = await read_form(request)
            require_csrf(form, session.csrf)
            await run_in_threadpool(self.sessions.end, request.cookies.get(SESSION_COOKIE) or "")
            log.info("admin sign-out: session %s", session.who)
        response = redirect(self.ctx.layout.url("/sign-in"))
        self.cookies.clear(response, SESSION_COOKIE)
        return response
