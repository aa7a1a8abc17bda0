"""Nodes: the storage nodes users are assigned to, with the CLI's drain and
down switches (tokenserver/admin.py, as `syncstorage node drain|update`)."""

from __future__ import annotations

from html import escape

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from syncstorage.admin.context import AdminContext
from syncstorage.admin.format import format_count
from syncstorage.admin.page import Refusal, action_form, html_response, notice, redirect, table
from syncstorage.admin.signin import Session
from syncstorage.tokenserver import admin

DONE = {
    "drain": "The node takes no new users; its users move at their next sync.",
    "undrain": "The node takes new users again.",
    "down": "The node is marked down: no new users.",
    "up": "The node is marked up.",
}


def _drained(row) -> bool:
    return bool(row.backoff) and row.available == 0


async def node_list(ctx: AdminContext, request: Request, session: Session) -> Response:
    rows = await run_in_threadpool(admin.list_nodes, ctx.tokenserver)
    csrf = session.csrf

    def actions(row) -> str:
        node = {"node": row.node}
        drain = ("undrain", "Stop draining") if _drained(row) else ("drain", "Drain")
        down = ("up", "Mark up") if row.downed else ("down", "Mark down")
        return "".join(
            action_form(ctx.layout, f"/nodes/{action}", csrf, label, node, danger=action in ("drain", "down"))
            for action, label in (drain, down)
        )

    def state(row) -> str:
        states = [name for name, on in (("down", row.downed), ("draining", _drained(row)), ("backoff", row.backoff and not _drained(row))) if on]
        return ", ".join(states) or "in service"

    body_rows = [
        [escape(row.node), format_count(row.capacity), format_count(row.current_load), format_count(row.available),
         state(row), actions(row)]
        for row in rows
    ]
    body = f"""{notice(DONE.get(request.query_params.get("done", "")))}
<p>Load is the number of users the tokenserver assigned to a node; it hands a
node new users while it has available slots and is neither down nor draining.
Draining also moves the node's users to other nodes at their next sync (their
Firefox uploads its data again there), as <code>syncstorage node drain</code> does.</p>
{table("Storage nodes", ["node", "capacity", "load", "available", "state", "actions"], body_rows, empty="no nodes")}"""
    return html_response(ctx.layout.render("Nodes", body, current="/nodes", csrf=csrf))


async def node_action(ctx: AdminContext, request: Request, session: Session, form: dict[str, str]) -> Response:
    action = request.path_params["action"]
    url = form.get("node", "")
    try:
        if action == "drain":
            moved = await run_in_threadpool(admin.drain_node, ctx.tokenserver, url)
            target = f"node {url} ({moved} users to move)"
        elif action == "undrain":
            await run_in_threadpool(admin.undrain_node, ctx.tokenserver, url)
            target = f"node {url}"
        elif action in ("down", "up"):
            await run_in_threadpool(lambda: admin.update_node(ctx.tokenserver, url, downed=action == "down"))
            target = f"node {url}"
        else:
            raise Refusal(404, "admin: no such node action")
    except admin.NodeNotFound:
        raise Refusal(404, "admin: no such node") from None
    except ValueError:  # not an http(s) URL, too long
        raise Refusal(400, "admin: not a node URL") from None
    ctx.log_action(session, f"node-{action}", target)
    return redirect(ctx.layout.url("/nodes"), done=action)
