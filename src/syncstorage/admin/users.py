"""Users: the tokenserver's current records, a page at a time, and one
user's stored data, which the operator may delete.

Paging is by keyset (uid below the last one shown), so every page costs
the same at 100,000 users; the search is a uid or the start of an email,
both served by indexes, and shows the first PAGE_SIZE matches
(tokenserver/admin.py `user_page`). The last sync is
the newest write among the page's users (user_collections, by primary key).
"""

from __future__ import annotations

from html import escape

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from syncstorage.admin.context import AdminContext
from syncstorage.admin.format import format_bytes, format_count, format_time
from syncstorage.admin.page import Refusal, csrf_field, html_response, notice, redirect, table
from syncstorage.admin.signin import Session
from syncstorage.tokenserver import admin

PAGE_SIZE = 50
MAX_SEARCH_CHARACTERS = 255  # users.email's length
MAX_UID = 2**63 - 1  # users.uid is a BIGINT
DONE = {"deleted": "The user's stored data was deleted."}


def _uid_or_none(text: str | None) -> int | None:
    if text is None or text == "":
        return None
    if not text.isdigit() or len(text) > 19 or int(text) > MAX_UID:
        raise Refusal(400, "admin users: bad paging value")
    return int(text)


async def user_list(ctx: AdminContext, request: Request, session: Session) -> Response:
    search = request.query_params.get("q", "").strip().lower()
    if len(search) > MAX_SEARCH_CHARACTERS:
        raise Refusal(400, "admin users: search longer than an email")
    if search.isdigit() and (len(search) > 19 or int(search) > MAX_UID):
        search = str(MAX_UID)  # no such uid: an empty page, not an error
    before = None if search else _uid_or_none(request.query_params.get("before"))
    rows, current = await run_in_threadpool(
        admin.user_page, ctx.tokenserver, before=before, search=search, limit=PAGE_SIZE + 1
    )
    more, rows = len(rows) > PAGE_SIZE, rows[:PAGE_SIZE]
    last_syncs = await run_in_threadpool(ctx.storage.last_syncs, [row.uid for row in rows])
    users_url = ctx.layout.url("/users")
    body_rows = [
        [
            f'<a href="{escape(users_url)}/{row.uid}">{row.uid}</a>',
            f'<span class="account">{escape(row.email)}</span>{" (replaced)" if row.replaced_at else ""}',
            escape(row.node or f"(gone: {row.nodeid})"),
            format_time(row.created_at),
            format_time(last_syncs.get(row.uid)),
        ]
        for row in rows
    ]
    paging = []
    if search:
        caption = "Matching records, by account"
        if more:
            paging.append(f"The first {PAGE_SIZE} matches: type more of the account to narrow the search.")
        paging.append(f'<a href="{escape(users_url)}">All users</a>')
    else:
        caption = "Users, newest first"
        if before is not None:
            paging.append(f'<a href="{escape(users_url)}">First page</a>')
        if more:
            paging.append(f'<a href="{escape(users_url)}?before={rows[-1].uid}" rel="next">Next page</a>')
    body = f"""<p>{format_count(current)} current users (each Firefox Account's newest record).</p>
<form method="get" action="{escape(users_url)}" class="search" role="search">
<label for="q">uid or start of the account</label>
<input id="q" name="q" value="{escape(search)}" maxlength="{MAX_SEARCH_CHARACTERS}" autocomplete="off">
<button type="submit">Search</button>
</form>
{table(caption, ["uid", "account", "node", "created", "last sync"], body_rows, empty="no user matches")}
<p class="paging">{" · ".join(paging)}</p>"""
    return html_response(ctx.layout.render("Users", body, current="/users", csrf=session.csrf))


async def user_detail(ctx: AdminContext, request: Request, session: Session) -> Response:
    uid = _path_uid(request)
    records = await run_in_threadpool(admin.user_records, ctx.tokenserver, uid=uid)
    collections = await run_in_threadpool(ctx.storage.user_collections, uid)
    if not records and not collections:
        raise Refusal(404, "admin users: no such uid")
    record_rows = [
        [str(r.uid), f'<span class="account">{escape(r.email)}</span>', escape(r.node or f"(gone: {r.nodeid})"),
         format_time(r.created_at), format_time(r.replaced_at), str(r.generation)]
        for r in records
    ]
    data_rows = [
        [escape(c.name), format_count(c.items), format_bytes(c.bytes), format_time(c.last_modified)]
        for c in collections
    ]
    if data_rows:
        data_rows.append(["<strong>total</strong>", format_count(sum(c.items for c in collections)),
                          format_bytes(sum(c.bytes for c in collections)), ""])
    delete_url = ctx.layout.url(f"/users/{uid}/delete")
    body = f"""{notice(DONE.get(request.query_params.get("done", "")))}
{table("Tokenserver records", ["uid", "account", "node", "created", "replaced", "generation"], record_rows)}
{table("Stored data", ["collection", "items", "bytes", "last modified"], data_rows, empty="nothing stored")}
<section aria-labelledby="delete">
<h2 id="delete">Delete the stored data</h2>
<p>Deletes every collection of uid {uid}, as <code>syncstorage user delete {uid}</code> does. The
tokenserver record stays: the user's next sync uploads their data again from their devices.</p>
<form method="post" action="{escape(delete_url)}">{csrf_field(session.csrf)}
<p><input type="checkbox" id="confirm" name="confirm" value="yes" required>
<label for="confirm">Yes, delete all stored data of uid {uid}</label></p>
<button type="submit" class="danger">Delete stored data</button>
</form>
</section>"""
    return html_response(ctx.layout.render(f"User {uid}", body, current="/users", csrf=session.csrf))


async def delete_user_data(ctx: AdminContext, request: Request, session: Session, form: dict[str, str]) -> Response:
    uid = _path_uid(request)
    if form.get("confirm") != "yes":
        raise Refusal(400, "admin delete without confirmation")
    await run_in_threadpool(ctx.storage.delete_user_data, uid)
    ctx.log_action(session, "delete-user-data", f"uid {uid}")
    return redirect(ctx.layout.url(f"/users/{uid}"), done="deleted")


def _path_uid(request: Request) -> int:
    uid = request.path_params["uid"]
    if uid > MAX_UID:
        raise Refusal(404, "admin users: no such uid")
    return uid
