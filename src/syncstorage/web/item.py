"""Endpoints on one BSO: GET, PUT, DELETE (storage-api §10)."""

from __future__ import annotations

from syncstorage.web import rendering
from syncstorage.web.bodies import parse_put
from syncstorage.web.context import Call, Context, Result
from syncstorage.web.errors import not_found
from syncstorage.web.preconditions import session
from syncstorage.web.quota import check_quota
from syncstorage.web.validation import payload_bytes


def get_item(ctx: Context, call: Call) -> Result:
    with session(ctx, call) as (s, _):
        record = s.get_item(call.target.item_id)
    if record is None:
        raise not_found()
    # X-Last-Modified is the item's own modified (storage-api §7)
    return Result(rendering.bso(record), last_modified=record.modified)


def put_item(ctx: Context, call: Call) -> Result:
    update = parse_put(
        call.body,
        call.headers.get("content-type"),
        call.target.collection_name,
        call.target.item_id,
        ctx.limits["max_record_payload_bytes"],
    )
    with session(ctx, call, write=True) as (s, _):
        quota_headers = check_quota(ctx.quota_limit, s, payload_bytes(update.payload))
        now = s.set_items([update])
    return Result(rendering.ts(now), last_modified=now, timestamp=now, headers=quota_headers)


def delete_item(ctx: Context, call: Call) -> Result:
    with session(ctx, call, write=True) as (s, _):
        if not s.delete_item(call.target.item_id):
            raise not_found()
        now = s.now
    return Result(b'{"modified":%s}' % rendering.ts(now), last_modified=now, timestamp=now)
