"""Endpoints on one collection: GET, POST (incl. batches), DELETE (§9)."""

from __future__ import annotations

from typing import cast

from syncstorage import metrics
from syncstorage.web import rendering
from syncstorage.web.bodies import NEWLINES, parse_post
from syncstorage.web.context import Call, Context, Result
from syncstorage.web.errors import bad_request
from syncstorage.web.preconditions import session
from syncstorage.web.quota import check_quota
from syncstorage.web.validation import (
    BatchParams,
    check_size_hints,
    encode_batch_id,
    parse_ids,
    parse_item_query,
)


def get_collection(ctx: Context, call: Call) -> Result:
    query = parse_item_query(call.query)
    media = rendering.negotiate(call.headers.get("accept"))
    with session(ctx, call) as (s, ts):
        ts = ts or 0  # a missing collection lists as [] (§9.1)
        page = s.find_items(query)
    headers = {"X-Weave-Records": str(len(page.items))}
    if page.next_offset is not None:
        headers["X-Weave-Next-Offset"] = page.next_offset
    body = rendering.listing(page.items, full=query.full, newlines=media == NEWLINES)
    return Result(body, last_modified=ts, content_type=media, headers=headers)


def post_collection(ctx: Context, call: Call) -> Result:
    batch = BatchParams(call.query)
    check_size_hints(call.headers, ctx.limits)
    items = parse_post(
        call.body, call.headers.get("content-type"), call.target.collection_name, ctx.limits
    )
    # as received (a POST retried after a same-slot conflict counts twice)
    metrics.observe_batch(len(items.accepted))
    with session(ctx, call, write=True) as (s, ts):
        ts = ts or 0
        if batch.batch is None:
            quota_headers = check_quota(ctx.quota_limit, s, items.payload_bytes)
            now = s.set_items(items.accepted)  # an empty list still bumps it (§9.2)
            return _written(now, items.success, items.failed, quota_headers)
        if batch.batch == "new" and batch.commit:
            # opened and committed at once: nothing staged before (§9.4)
            quota_headers = check_quota(ctx.quota_limit, s, items.payload_bytes)
            now = s.commit_items(items.accepted)
            return _written(now, items.success, items.failed, quota_headers)
        if batch.batch == "new":
            batch_id = s.create_batch()
        else:
            batch_id = batch.batch
            if not s.batch_exists(batch_id):
                raise bad_request()  # rolled back: the batch stays usable (§9.4)
        new_bytes = items.payload_bytes
        if batch.commit and ctx.quota_limit is not None:
            new_bytes += s.staged_size(batch_id)  # a commit writes what was staged (§13)
        quota_headers = check_quota(ctx.quota_limit, s, new_bytes)
        if items.accepted:
            s.append_to_batch(batch_id, items.accepted)
        if batch.commit:
            now = s.commit_batch(batch_id)
            return _written(now, items.success, items.failed, quota_headers)
    # Staged only: nothing visible, the collection timestamp does not move (§9.4)
    body = b'{"batch":%s,"success":%s,"failed":%s}' % (
        rendering.dumps(encode_batch_id(batch_id)),
        rendering.dumps(items.success),
        rendering.dumps(items.failed),
    )
    return Result(body, status=202, last_modified=ts, headers=quota_headers)


def _written(now: int, success: list[str], failed: dict[str, str], headers: dict) -> Result:
    body = rendering.write_result(now, success, failed)
    return Result(body, last_modified=now, timestamp=now, headers=headers)


def delete_collection(ctx: Context, call: Call) -> Result:
    ids_param = call.query.get("ids")
    ids = None if ids_param is None else parse_ids(ids_param)
    with session(ctx, call, write=True) as (s, ts):
        if ts is None:
            # Not the user's collection: nothing to do, nothing created (§9.5)
            current = s.storage_timestamp()
            return Result(rendering.ts(current), last_modified=current)
        # ts: the user has the collection, so deleting it returns a timestamp
        now = cast(int, s.delete_collection()) if ids is None else s.delete_items(ids)
    return Result(rendering.ts(now), last_modified=now, timestamp=now)
