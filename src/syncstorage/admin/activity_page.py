"""The Activity page: the charts of admin/activity.py's counts."""

from __future__ import annotations

import time

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from syncstorage.admin.activity import DAY_MS, HOUR_MS
from syncstorage.admin.charts import bar_chart
from syncstorage.admin.context import AdminContext
from syncstorage.admin.format import format_bytes, format_count
from syncstorage.admin.page import html_response, table
from syncstorage.admin.signin import Session

CHART_DAYS = 7  # of hourly bars
STORAGE_DAYS = 30
TABLE_DAYS = 7  # the newest days also as a table (the chart's numbers, for screen readers)


def _hour_label(hour: int) -> str:
    return time.strftime("%b %d %H:00", time.gmtime(hour * HOUR_MS / 1000))


def _day_label(day: int) -> str:
    return time.strftime("%b %d", time.gmtime(day * DAY_MS / 1000))


async def activity(ctx: AdminContext, request: Request, session: Session) -> Response:
    await ctx.activity.flush()  # this process's counts so far
    first_hour, requests, syncs = await run_in_threadpool(ctx.activity.hours, CHART_DAYS * 24)
    first_day, days = await run_in_threadpool(ctx.activity.days, STORAGE_DAYS)
    hours = (_hour_label(first_hour), _hour_label(first_hour + len(requests) - 1) + " UTC")
    by_day = {row.day: row for row in days}
    day_range = range(first_day, first_day + STORAGE_DAYS)
    stored = [by_day[d].bytes if d in by_day else 0 for d in day_range]
    day_rows = [
        [_day_label(row.day), format_count(row.users), format_count(row.items), format_bytes(row.bytes)]
        for row in list(reversed(days))[:TABLE_DAYS]
    ]
    body = f"""<p>Counted by this server while the admin page is on: every request, and as
syncs the <code>GET /info/collections</code> each Firefox sync starts with.
Stored data is measured once a day.</p>
<section aria-labelledby="syncs">
<h2 id="syncs">Syncs per hour, last {CHART_DAYS} days</h2>
{bar_chart("syncs-chart", "Syncs per hour", syncs, hours, format_count)}
</section>
<section aria-labelledby="requests">
<h2 id="requests">Requests per hour, last {CHART_DAYS} days</h2>
{bar_chart("requests-chart", "Requests per hour", requests, hours, format_count)}
</section>
<section aria-labelledby="storage">
<h2 id="storage">Stored data, last {STORAGE_DAYS} days</h2>
{bar_chart("storage-chart", "Stored bytes per day", stored, (_day_label(first_day), _day_label(day_range[-1])), format_bytes, totals=False)}
{table(f"Stored data, last {TABLE_DAYS} days measured", ["day (UTC)", "users with data", "items", "bytes"], day_rows, empty="not measured yet")}
</section>"""
    return html_response(ctx.layout.render("Activity", body, current="/activity", csrf=session.csrf))
