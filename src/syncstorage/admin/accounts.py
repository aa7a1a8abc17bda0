"""Accounts (with `accounts_enabled`): the built-in accounts server's
accounts, a page at a time, and the operator's actions on them: invite,
reset password, disable / enable, delete (accounts/admin.py, as
`syncstorage account ...` does; deletion through account_removal.py).

The list is in address order, paged by keyset on the unique index of the
normalised address (the last one shown), so every page costs the same at
100,000 accounts; the search is the start of an address (a range on that
index, paged the same way) or a uid (32 hex digits). Invitation links and
reset codes are shown once, in the answer to the POST (never stored: only
their hashes are), and never logged.
"""

from __future__ import annotations

from html import escape
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from syncstorage.account_removal import AccountRemoval, StoredDataLeft
from syncstorage.accounts import admin, fields
from syncstorage.accounts.errors import ApiError
from syncstorage.admin.context import AdminContext
from syncstorage.admin.format import format_count, format_time
from syncstorage.admin.page import Refusal, action_form, csrf_field, html_response, notice, redirect, table
from syncstorage.admin.signin import Session

PAGE_SIZE = 50
MAX_EMAIL_CHARACTERS = 255  # accounts.normal_email's length
DONE = {
    "disabled": "The account is disabled: it cannot sign in, and its sessions and tokens have ended.",
    "enabled": "The account is enabled: it can sign in again.",
    "deleted": "The account and its synced data were deleted.",
}


def _text(value: str, what: str) -> str:
    """A search, paging value or address: bounded, no control characters."""
    if len(value) > MAX_EMAIL_CHARACTERS or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise Refusal(400, f"admin accounts: bad {what}")
    return value


def _removal(ctx: AdminContext) -> AccountRemoval:
    assert ctx.removal is not None  # the routes exist only with accounts on
    return ctx.removal


async def _account(ctx: AdminContext, request: Request):
    uid = request.path_params["uid"]
    if not fields.is_hex(uid, 32):  # an upper-case uid finds no row either: 404 as before
        raise Refusal(404, "admin accounts: no such account")
    try:
        return await run_in_threadpool(admin.find, ctx.tokenserver, uid=uid)
    except admin.AccountProblem:
        raise Refusal(404, "admin accounts: no such account") from None


def _state(row) -> str:
    return f'<span><strong class="bad">disabled</strong> since {format_time(row.disabled_at)}</span>' if row.disabled_at else "in use"


def _records_link(ctx: AdminContext, uid: str) -> str:
    """The Users page's search for the account's tokenserver records."""
    return f'<a href="{escape(ctx.layout.url("/users"))}?q={uid}">storage users</a>'


async def account_list(ctx: AdminContext, request: Request, session: Session) -> Response:
    search = _text(request.query_params.get("q", "").strip().lower(), "search")
    after = request.query_params.get("after")
    after = _text(after, "paging value") if after else None
    page = await run_in_threadpool(admin.account_page, ctx.tokenserver, after=after, search=search, limit=PAGE_SIZE)
    accounts_url = ctx.layout.url("/accounts")
    rows = [
        [
            f'<a href="{escape(accounts_url)}/{row.uid}" class="account">{escape(row.email)}</a>',
            format_time(row.created_at),
            "yes" if row.email_verified else "no",
            _state(row),
            format_time(page.last_sign_ins.get(row.uid)),
            _records_link(ctx, row.uid),
        ]
        for row in page.accounts
    ]
    paging = []
    if search or after:
        paging.append(f'<a href="{escape(accounts_url)}">All accounts, first page</a>')
    if page.more:
        query = urlencode({**({"q": search} if search else {}), "after": page.accounts[-1].normal_email})
        paging.append(f'<a href="{escape(accounts_url)}?{escape(query)}" rel="next">Next page</a>')
    signup = ctx.settings.accounts_signup
    policy = ("" if signup == "invite" else
              f' Sign-up is <code>{escape(signup)}</code> (<code>accounts_signup</code>): an invitation matters only with <code>"invite"</code>.')
    body = f"""{notice(DONE.get(request.query_params.get("done", "")))}
<p>{format_count(page.total)} accounts of this server's own accounts server, in address order.</p>
<form method="get" action="{escape(accounts_url)}" class="search" role="search">
<label for="q">start of the address, or uid</label>
<input id="q" name="q" value="{escape(search)}" maxlength="{MAX_EMAIL_CHARACTERS}" autocomplete="off">
<button type="submit">Search</button>
</form>
{table("Matching accounts" if search else "Accounts", ["account", "created", "verified", "state", "last sign-in", "storage"], rows, empty="no account matches")}
<p class="paging">{" · ".join(paging)}</p>
<section aria-labelledby="invite">
<h2 id="invite">Invite</h2>
<p>A link to the sign-up page with a one-time invitation code, valid
{format_count(ctx.settings.accounts_invite_ttl)} s (<code>accounts_invite_ttl</code>), as
<code>syncstorage account invite</code> makes it.{policy}</p>
<form method="post" action="{escape(accounts_url)}/invite">{csrf_field(session.csrf)}
<p><label for="email">Only for this address (optional)</label><br>
<input id="email" name="email" type="email" maxlength="{MAX_EMAIL_CHARACTERS}" autocomplete="off"></p>
<button type="submit">Make an invitation link</button>
</form>
</section>"""
    return html_response(ctx.layout.render("Accounts", body, current="/accounts", csrf=session.csrf))


async def invite(ctx: AdminContext, request: Request, session: Session, form: dict[str, str]) -> Response:
    email = form.get("email", "").strip() or None
    if email is not None:
        try:
            email = fields.email({"email": email})  # what sign-up accepts
        except ApiError:
            raise Refusal(400, "admin accounts: not an e-mail address") from None
    now = ctx.storage.clock.now_ms()
    ttl = ctx.settings.accounts_invite_ttl
    code = await run_in_threadpool(admin.invite, ctx.tokenserver, email, now, ttl)
    link = f"{ctx.settings.effective_accounts_public_url}/signup?" + urlencode(
        {"invite": code, **({"email": email} if email else {})}
    )
    ctx.log_action(session, "account-invite", "an invitation for one address" if email else "an invitation for anyone")
    body = f"""<p class="notice" role="status">Send this link{f" to {escape(email)}" if email else ""}. It is shown
only now, works once, until {format_time(now + ttl * 1000)}:</p>
<p><code class="secret">{escape(link)}</code></p>
<p>The invitation code alone: <code>{escape(code)}</code></p>
<p><a href="{escape(ctx.layout.url("/accounts"))}">Back to the accounts</a></p>"""
    return html_response(ctx.layout.render("Invitation", body, current="/accounts", csrf=session.csrf))


async def account_detail(ctx: AdminContext, request: Request, session: Session) -> Response:
    account = await _account(ctx, request)
    last_sign_in = await run_in_threadpool(admin.last_sign_in, ctx.tokenserver, account.uid)
    base = f"/accounts/{account.uid}"
    facts = "".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in [
        ("address", f'<span class="account">{escape(account.email)}</span>'),
        ("uid", f'<span class="account">{account.uid}</span>'),
        ("created", format_time(account.created_at)),
        ("verified", "yes" if account.email_verified else "no"),
        ("password set", format_time(account.verifier_set_at)),
        ("state", _state(account)),
        ("last sign-in", format_time(last_sign_in)),
        ("storage", _records_link(ctx, account.uid)),
    ])
    csrf = session.csrf
    if account.disabled_at:
        switch = f"""<h2 id="state">Enable</h2>
<p>The account can sign in again; each of its Firefoxes signs in once more.</p>
{action_form(ctx.layout, base + "/enable", csrf, "Enable the account")}"""
        reset = "<p>A disabled account gets no reset code: enable it first.</p>"
    else:
        switch = f"""<h2 id="state">Disable</h2>
<p>No sign-in; every session, device and refresh token ends, the tokenserver refuses the account's
access tokens, and its Firefoxes stop syncing when their storage token expires. Its data stays.
As <code>syncstorage account disable</code>.</p>
{action_form(ctx.layout, base + "/disable", csrf, "Disable…", danger=True)}"""
        reset = f"""<p>A one-time code for the "reset password" page, valid
{format_count(ctx.settings.accounts_reset_ttl)} s, shown once, as <code>syncstorage account reset-password</code>
makes it. Using it sets a new password and a new sync key: every session ends and the account's Firefoxes
start a fresh sync from their own data.</p>
{action_form(ctx.layout, base + "/reset", csrf, "Make a reset code")}"""
    body = f"""{notice(DONE.get(request.query_params.get("done", "")))}
<dl class="facts">{facts}</dl>
<section aria-labelledby="reset"><h2 id="reset">Reset the password</h2>{reset}</section>
<section aria-labelledby="state">{switch}</section>
<section aria-labelledby="delete">
<h2 id="delete">Delete</h2>
<p>The account, its sessions and devices, its synced data in this server's storage and its tokenserver
records, as <code>syncstorage account delete</code> does. This cannot be undone.</p>
{action_form(ctx.layout, base + "/delete", csrf, "Delete…", danger=True)}
</section>"""
    return html_response(ctx.layout.render(f"Account {account.email}", body, current="/accounts", csrf=csrf))


def _confirm(ctx: AdminContext, session: Session, account, action: str, question: str, consequence: str) -> Response:
    """The confirmation step of a destructive action: the same POST with confirm=yes."""
    back = ctx.layout.url(f"/accounts/{account.uid}")
    body = f"""<p>{consequence}</p>
{action_form(ctx.layout, f"/accounts/{account.uid}/{action}", session.csrf, question, {"confirm": "yes"}, danger=True)}
<p><a href="{escape(back)}">Cancel</a></p>"""
    title = f"{question} {account.email}?"
    return html_response(ctx.layout.render(title, body, current="/accounts", csrf=session.csrf))


async def reset_password(ctx: AdminContext, request: Request, session: Session, form: dict[str, str]) -> Response:
    account = await _account(ctx, request)
    now = ctx.storage.clock.now_ms()
    ttl = ctx.settings.accounts_reset_ttl
    try:
        code = await run_in_threadpool(admin.reset_token, ctx.tokenserver, account, now, ttl)
    except admin.AccountProblem:
        raise Refusal(409, "admin accounts: a disabled account gets no reset code") from None
    ctx.log_action(session, "account-reset-password", f"account {account.uid}")
    link = f"{ctx.settings.effective_accounts_public_url}/reset_password?" + urlencode({"email": account.email})
    body = f"""<p class="notice" role="status">Give this code to the account's owner. It is shown only now, works
once, until {format_time(now + ttl * 1000)}, and replaces any earlier code:</p>
<p><code class="secret">{code}</code></p>
<p>They enter it with a new password on <a href="{escape(link)}">{escape(link)}</a>.</p>
<p><a href="{escape(ctx.layout.url(f"/accounts/{account.uid}"))}">Back to the account</a></p>"""
    return html_response(ctx.layout.render(f"Reset code for {account.email}", body, current="/accounts", csrf=session.csrf))


async def disable(ctx: AdminContext, request: Request, session: Session, form: dict[str, str]) -> Response:
    account = await _account(ctx, request)
    if form.get("confirm") != "yes":
        return _confirm(ctx, session, account, "disable", "Disable",
                        "It cannot sign in until enabled again; every session, device and refresh token ends now.")
    await run_in_threadpool(admin.set_disabled, ctx.tokenserver, account, True, ctx.storage.clock.now_ms())
    ctx.log_action(session, "account-disable", f"account {account.uid}")
    return redirect(ctx.layout.url(f"/accounts/{account.uid}"), done="disabled")


async def enable(ctx: AdminContext, request: Request, session: Session, form: dict[str, str]) -> Response:
    account = await _account(ctx, request)
    await run_in_threadpool(admin.set_disabled, ctx.tokenserver, account, False, ctx.storage.clock.now_ms())
    ctx.log_action(session, "account-enable", f"account {account.uid}")
    return redirect(ctx.layout.url(f"/accounts/{account.uid}"), done="enabled")


async def delete(ctx: AdminContext, request: Request, session: Session, form: dict[str, str]) -> Response:
    account = await _account(ctx, request)
    if form.get("confirm") != "yes":
        return _confirm(ctx, session, account, "delete", "Delete",
                        "The account, its sessions and devices, its synced data and its tokenserver records go "
                        "for good. Its Firefoxes are signed out at their next contact.")
    try:
        removed = await run_in_threadpool(_removal(ctx).delete_account, account)
    except StoredDataLeft as exc:
        ctx.log_action(session, "account-delete", f"account {account.uid} (its stored data is left)")
        raise Refusal(503, str(exc)) from None
    uids = ", ".join(str(uid) for uid in removed.storage_uids) or "none"
    ctx.log_action(session, "account-delete", f"account {account.uid} (stored data of storage uids: {uids})")
    return redirect(ctx.layout.url("/accounts"), done="deleted")
