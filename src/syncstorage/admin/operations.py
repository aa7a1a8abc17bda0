"""Operations: the purges (the last ones, and one now), the `check`
results and the effective settings with secrets masked."""

from __future__ import annotations

from html import escape

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from syncstorage.admin.context import AdminContext
from syncstorage.admin.format import format_count, format_time
from syncstorage.admin.page import action_form, html_response, notice, redirect, table
from syncstorage.admin.signin import Session
from syncstorage.checks import run_checks
from syncstorage.config import shown_settings

DONE = {
    "purged": "The purge finished: its row is at the top of the table.",
    "busy": "Another process is purging right now; its row appears when it is done.",
}


async def operations(ctx: AdminContext, request: Request, session: Session) -> Response:
    runs = await run_in_threadpool(ctx.storage.purge_runs, 10)
    checks = await run_in_threadpool(lambda: list(run_checks(ctx.settings)))
    purge_rows = [
        [format_time(r.finished_at), escape(r.source), f"{(r.finished_at - r.started_at) / 1000:.1f} s",
         format_count(r.expired_items), format_count(r.stale_batches), format_count(r.stale_batch_items)]
        for r in runs
    ]
    check_rows = []
    for name, outcome in checks:
        if outcome is None:
            check_rows.append(['<strong class="bad">SKIP</strong>', escape(name), "needs the check above to pass"])
        elif outcome.ok:
            check_rows.append(['<strong class="ok">PASS</strong>', escape(name), escape(outcome.detail)])
        else:
            check_rows.append(['<strong class="bad">FAIL</strong>', escape(name),
                               f"{escape(outcome.detail)}<br>hint: {escape(outcome.hint)}"])
    setting_rows = [
        [f"<code>{escape(name)}</code>", f"<code>{escape(shown)}</code>" if is_set else f"<em>{escape(shown)}</em>"]
        for name, shown, is_set in shown_settings(ctx.settings)
    ]
    interval = ctx.settings.purge_interval
    schedule = (f"The server purges every {interval} s (<code>purge_interval</code>)." if interval
                else "The server does not purge by itself (<code>purge_interval</code> is 0): run "
                     "<code>syncstorage purge</code> from cron, or the button below.")
    body = f"""{notice(DONE.get(request.query_params.get("done", "")))}
<section aria-labelledby="purge">
<h2 id="purge">Purge</h2>
<p>Deletes expired items and stale batch uploads, in short bounded passes. {schedule}</p>
{action_form(ctx.layout, "/operations/purge", session.csrf, "Purge now")}
{table("Last purges", ["finished", "by", "took", "expired items", "stale batches", "staged items"], purge_rows, empty="none recorded yet")}
</section>
<section aria-labelledby="checks">
<h2 id="checks">Checks</h2>
<p>What <code>syncstorage check</code> reports.</p>
{table("Checks", ["result", "check", "detail"], check_rows)}
</section>
<section aria-labelledby="settings">
<h2 id="settings">Effective settings</h2>
<p>Secrets and passwords are masked, as <code>syncstorage config show</code> masks them.</p>
{table("Settings", ["setting", "value"], setting_rows)}
</section>"""
    return html_response(ctx.layout.render("Operations", body, current="/operations", csrf=session.csrf))


async def purge_now(ctx: AdminContext, request: Request, session: Session, form: dict[str, str]) -> Response:
    deleted = await ctx.purge_now("admin")
    if deleted is None:
        ctx.log_action(session, "purge", "skipped: another process is purging")
        return redirect(ctx.layout.url("/operations"), done="busy")
    ctx.log_action(session, "purge", "expired items {}, stale batches {}, staged batch items {}".format(*deleted))
    return redirect(ctx.layout.url("/operations"), done="purged")
