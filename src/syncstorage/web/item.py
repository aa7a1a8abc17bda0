"""Endpoints on one BSO: GET, PUT, DELETE (storage-api §10)."""

from __future__ import annotations

from syncstorage.web import rendering
from syncstorage.web.bodies import parse_put
from syncstorage.web.context import Call, Context, Result
from syncstorage.web.errors import not_found
from syncstorage.web.quota import check_quota
from syncstorage.web.validation import Preconditions, payload_bytes


def get_item(ctx: Context, call: Call) -> Result:
    pre = Preconditions(call.headers)
    with ctx.storage.session(call.target.uid, call.target.collection) as s:
        record = s.get_item(call.target.item)
        pre.check(0 if record is None else record.modified)
    if record is None:
        raise not_found()
    # X-Last-Modified is the item's own modified (storage-api §7)
    return Result(rendering.bso(record), last_modified=record.modified)


def put_item(ctx: Context, call: Call) -> Result:
    update = parse_put(
        call.body,
        call.headers.get("content-type"),
        call.target.collection,
        call.target.item,
        ctx.limits["max_record_payload_bytes"],
    )
    pre = Preconditions(call.headers)
    with ctx.storage.session(call.target.uid, call.target.collection, write=True) as s:
        pre.check(s.item_timestamp(call.target.item) or 0)
        quota_headers = check_quota(ctx.quota_limit, s, payload_bytes(update.payload))
        now = s.set_items([update])
    return Result(rendering.ts(now), last_modified=now, timestamp=now, headers=quota_headers)


def delete_item(ctx: Context, call: Call) -> Result:
    pre = Preconditions(call.headers)
    with ctx.storage.session(call.target.uid, call.target.collection, write=True) as s:
        pre.check(s.item_timestamp(call.target.item) or 0)
        if not s.delete_item(call.target.item):
            raise not_found()
        now = s.now
    return Result(b'{"modified":%s}' % rendering.ts(now), last_modified=now, timestamp=now)
