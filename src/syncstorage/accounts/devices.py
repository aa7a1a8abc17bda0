"""Devices, commands and attached clients (spec accounts.md §6, §6.1).

One device per session token. Firefox registers after sign-in, updates
when its commands or push subscription change, lists the account's devices
for the Sync clients engine and Send Tab, and polls its command queue.
Push is not sent (Firefox polls instead); `devices/notify` is accepted.
"""

from __future__ import annotations

import secrets
from typing import Any

import orjson
import sqlalchemy as sa
from starlette.routing import Route

from syncstorage.accounts import errors, fields, store
from syncstorage.accounts.clients import CLIENTS
from syncstorage.accounts.context import AccountsContext
from syncstorage.accounts.http import Call
from syncstorage.accounts.schema import device_commands, devices

MAX_NAME = 255
MAX_TYPE = 16
MAX_COMMANDS = 32
MAX_COMMAND_NAME = 255
MAX_COMMAND_VALUE = 8192
MAX_PUSH_FIELD = 2048
MAX_PAYLOAD_BYTES = 32 * 1024
MAX_MESSAGES = 100
COMMAND_DAYS = 30
DEVICE_TYPES = frozenset({"desktop", "mobile", "tablet", "vr", "tv", "unknown"})


def routes(ctx: AccountsContext) -> list[Route]:
    return [
        ctx.route("POST", "/v1/account/device", register_or_update, signed_by=store.SESSION, refresh_token_ok=True),
        ctx.route("GET", "/v1/account/devices", list_devices, signed_by=store.SESSION, refresh_token_ok=True),
        ctx.route("POST", "/v1/account/device/destroy", destroy, signed_by=store.SESSION, refresh_token_ok=True),
        ctx.route("GET", "/v1/account/device/commands", pending_commands, signed_by=store.SESSION, refresh_token_ok=True),
        ctx.route("POST", "/v1/account/devices/invoke_command", invoke_command, signed_by=store.SESSION, refresh_token_ok=True),
        ctx.route("POST", "/v1/account/devices/notify", notify, signed_by=store.SESSION, refresh_token_ok=True),
        ctx.route("GET", "/v1/account/attached_clients", attached_clients, signed_by=store.SESSION, refresh_token_ok=True),
    ]


def _available_commands(body: dict[str, Any]) -> str | None:
    commands = body.get("availableCommands")
    if commands is None:
        return None
    if not isinstance(commands, dict) or len(commands) > MAX_COMMANDS or not all(
        isinstance(name, str) and len(name) <= MAX_COMMAND_NAME
        and isinstance(value, str) and len(value) <= MAX_COMMAND_VALUE
        for name, value in commands.items()
    ):
        raise errors.invalid_parameter("availableCommands")
    return orjson.dumps(commands).decode()


def _device_values(body: dict[str, Any]) -> dict[str, Any]:
    """The fields the request sets (an update may send only some)."""
    values: dict[str, Any] = {}
    if "name" in body:
        values["name"] = fields.text(body, "name", MAX_NAME)
    if "type" in body:
        kind = fields.text(body, "type", MAX_TYPE)
        values["type"] = kind if kind in DEVICE_TYPES else "unknown"
    for key, column in (("pushCallback", "push_callback"), ("pushPublicKey", "push_public_key"),
                        ("pushAuthKey", "push_auth_key")):
        if key in body:
            values[column] = fields.text(body, key, MAX_PUSH_FIELD, required=False) or None
            values["push_expired"] = False
    commands = _available_commands(body)
    if commands is not None:
        values["available_commands"] = commands
    return values


def _describe(row: sa.Row, current_session: str | None = None) -> dict[str, Any]:
    return {
        "id": row.id,
        "isCurrentDevice": current_session is not None and row.session_token_id == current_session,
        "lastAccessTime": row.last_access_at,
        "createdAt": row.created_at,
        "name": row.name,
        "type": row.type,
        "pushCallback": row.push_callback,
        "pushPublicKey": row.push_public_key,
        "pushAuthKey": row.push_auth_key,
        "pushEndpointExpired": bool(row.push_expired),
        "availableCommands": orjson.loads(row.available_commands),
        "location": {},
    }


def register_or_update(ctx: AccountsContext, call: Call) -> dict[str, Any]:
    body = call.json()
    device_id = fields.text(body, "id", 32, required=False)
    values = _device_values(body)
    with ctx.session(call) as (conn, auth):
        session_id, uid, now = auth.token.token_id, auth.account.uid, ctx.now_ms()
        own = conn.execute(sa.select(devices).where(devices.c.session_token_id == session_id)).first()
        if device_id is not None:
            row = conn.execute(sa.select(devices).where(devices.c.id == device_id.lower(), devices.c.uid == uid)).first()
            if row is None or (own is not None and own.id != row.id):
                raise errors.unknown_device()
            values.update(session_token_id=session_id, last_access_at=now)
            conn.execute(devices.update().where(devices.c.id == row.id).values(**values))
        else:
            if own is not None:
                raise errors.session_has_device(own.id)
            row_id = secrets.token_hex(16)
            conn.execute(devices.insert().values(**{
                "name": "Firefox", "type": "desktop", "push_callback": None, "push_public_key": None,
                "push_auth_key": None, "push_expired": False, "available_commands": "{}", **values,
                "id": row_id, "uid": uid, "session_token_id": session_id, "created_at": now, "last_access_at": now,
            }))
            device_id = row_id
        row = conn.execute(sa.select(devices).where(devices.c.id == device_id.lower())).first()
        assert row is not None
        described = _describe(row, session_id)
        del described["isCurrentDevice"], described["lastAccessTime"], described["location"]
        return described


def list_devices(ctx: AccountsContext, call: Call) -> list[dict[str, Any]]:
    since = call.query.get("filterIdleDevicesTimestamp")
    oldest = fields.integer(since, "filterIdleDevicesTimestamp") if since else 0
    with ctx.session(call) as (conn, auth):
        rows = conn.execute(
            sa.select(devices).where(devices.c.uid == auth.account.uid, devices.c.last_access_at >= oldest)
            .order_by(devices.c.created_at)
        )
        return [_describe(row, auth.token.token_id) for row in rows]


def destroy(ctx: AccountsContext, call: Call) -> dict[str, Any]:
    """Disconnect a device: it and its session go (that Firefox then shows
    "Reconnect", §6.3)."""
    device_id = fields.text(call.json(), "id", 32)
    with ctx.session(call) as (conn, auth):
        row = conn.execute(sa.select(devices).where(devices.c.id == device_id.lower(), devices.c.uid == auth.account.uid)).first()
        if row is None:
            raise errors.unknown_device()
        conn.execute(devices.delete().where(devices.c.id == row.id))
        if row.session_token_id is not None:  # a session, or a mobile app's refresh token
            store.delete_token(conn, row.session_token_id)
            store.delete_refresh_token_by_hash(conn, row.session_token_id)
    return {}


def _own_device(conn: sa.Connection, session_id: str) -> sa.Row | None:
    return conn.execute(sa.select(devices).where(devices.c.session_token_id == session_id)).first()


def pending_commands(ctx: AccountsContext, call: Call) -> dict[str, Any]:
    index = fields.integer(call.query.get("index", "0"), "index")
    limit = fields.integer(call.query.get("limit", str(MAX_MESSAGES)), "limit", minimum=1, maximum=MAX_MESSAGES)
    with ctx.session(call) as (conn, auth):
        device = _own_device(conn, auth.token.token_id)
        if device is None:
            raise errors.unknown_device()
        rows = list(conn.execute(
            sa.select(device_commands)
            .where(device_commands.c.uid == auth.account.uid, device_commands.c.target == device.id,
                   device_commands.c.idx >= index)
            .order_by(device_commands.c.idx).limit(limit + 1)
        ))
    messages = [
        {"index": row.idx, "data": {"command": row.command, "payload": orjson.loads(row.payload), "sender": row.sender}}
        for row in rows[:limit]
    ]
    return {"index": messages[-1]["index"] if messages else index, "last": len(rows) <= limit, "messages": messages}


def invoke_command(ctx: AccountsContext, call: Call) -> dict[str, Any]:
    body = call.json()
    command = fields.text(body, "command", MAX_COMMAND_NAME)
    target = fields.text(body, "target", 32)
    payload = body.get("payload")
    if not isinstance(payload, dict):
        raise errors.invalid_parameter("payload")
    encoded = orjson.dumps(payload).decode()
    if len(encoded) > MAX_PAYLOAD_BYTES:
        raise errors.invalid_parameter("payload", "payload too large")
    with ctx.session(call) as (conn, auth):
        uid, now = auth.account.uid, ctx.now_ms()
        row = conn.execute(sa.select(devices).where(devices.c.id == target.lower(), devices.c.uid == uid)).first()
        if row is None:
            raise errors.unknown_device()
        if command not in orjson.loads(row.available_commands):
            raise errors.unavailable_command()
        sender = _own_device(conn, auth.token.token_id)
        conn.execute(device_commands.delete().where(
            device_commands.c.uid == uid, device_commands.c.created_at < now - COMMAND_DAYS * 86_400_000
        ))
        last = conn.execute(sa.select(sa.func.max(device_commands.c.idx)).where(device_commands.c.uid == uid)).scalar()
        conn.execute(device_commands.insert().values(
            uid=uid, idx=(last or 0) + 1, target=row.id, sender=sender.id if sender else None,
            command=command, payload=encoded, created_at=now,
        ))
    return {"enqueued": True, "notified": False}


def notify(ctx: AccountsContext, call: Call) -> dict[str, Any]:
    body = call.json()
    to = body.get("to")
    if to != "all" and not (isinstance(to, list) and len(to) <= 1000 and all(isinstance(x, str) for x in to)):
        raise errors.invalid_parameter("to")
    return {}  # no push service: the other devices see the changes at their next sync


def attached_clients(ctx: AccountsContext, call: Call) -> Any:
    with ctx.session(call) as (conn, auth):
        uid, current = auth.account.uid, auth.token.token_id
        by_session = {
            row.session_token_id: row
            for row in conn.execute(sa.select(devices).where(devices.c.uid == uid))
        }
        clients = []
        for session in store.sessions_of(conn, uid):
            device = by_session.get(session.token_id)
            clients.append({
                "clientId": None, "deviceId": device.id if device else None,
                "sessionTokenId": session.token_id, "refreshTokenId": None,
                "isCurrentSession": session.token_id == current,
                "deviceType": device.type if device else None,
                "name": device.name if device else (session.user_agent or "Web session"),
                "createdTime": session.created_at, "lastAccessTime": session.last_used_at,
                "scope": None, "location": {}, "userAgent": session.user_agent or "", "os": None,
            })
        for refresh in store.refresh_tokens_of(conn, uid):
            device = by_session.get(refresh.token_hash)
            clients.append({
                "clientId": refresh.client_id, "deviceId": device.id if device else None, "sessionTokenId": None,
                "refreshTokenId": refresh.token_hash, "isCurrentSession": refresh.token_hash == current,
                "deviceType": device.type if device else None,
                "name": device.name if device else CLIENTS.get(refresh.client_id, refresh.client_id),
                "createdTime": refresh.created_at, "lastAccessTime": refresh.last_used_at,
                "scope": refresh.scope.split(), "location": {}, "userAgent": "", "os": None,
            })
    return 200, clients, {"X-Timestamp": str(ctx.now_ms())}
