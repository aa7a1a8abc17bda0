"""Endpoints on a whole user: /info/* and DELETE of all storage (§8, §8.1)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import orjson

from syncstorage.storage import Session
from syncstorage.web import rendering
from syncstorage.web.context import Call, Context, Result
from syncstorage.web.preconditions import Preconditions, session

T = TypeVar("T")


def _read(ctx: Context, call: Call, read: Callable[[Session], T]) -> tuple[int, T]:
    """(storage timestamp, read(session)) in one read transaction, after
    the preconditions were checked against that timestamp (§6.1)."""
    with session(ctx, call) as (s, ts):
        return ts or 0, read(s)


def _counted(body: bytes, ts: int, records: int) -> Result:
    return Result(body, last_modified=ts, headers={"X-Weave-Records": str(records)})


def info_collections(ctx: Context, call: Call) -> Result:
    # Most of real traffic: one statement, no session (Storage.user_timestamps);
    # the storage timestamp is the route's (web/routes.py), checked here
    pre = Preconditions(call.headers)
    ts, stamps = ctx.storage.user_timestamps(call.target.uid)
    pre.check_timestamp(ts)
    return _counted(rendering.timestamp_map(stamps), ts, len(stamps))


def info_collection_counts(ctx: Context, call: Call) -> Result:
    ts, counts = _read(ctx, call, lambda s: s.collection_counts())
    return _counted(orjson.dumps(counts), ts, len(counts))


def info_collection_usage(ctx: Context, call: Call) -> Result:
    ts, sizes = _read(ctx, call, lambda s: s.collection_sizes())
    return _counted(rendering.kb_map(sizes), ts, len(sizes))


def info_quota(ctx: Context, call: Call) -> Result:
    ts, used = _read(ctx, call, lambda s: s.total_size())
    limit = None if ctx.quota_limit is None else ctx.quota_limit / 1024
    return Result(orjson.dumps([used / 1024, limit]), last_modified=ts)


def info_configuration(ctx: Context, call: Call) -> Result:
    # No session: no preconditions (its route names no timestamp, web/routes.py)
    # and X-Last-Modified 0.00 (storage-api §7, production)
    return Result(ctx.configuration_body, last_modified=0)


def delete_storage(ctx: Context, call: Call) -> Result:
    with session(ctx, call, write=True) as (s, _):
        now = s.delete_storage()
    return Result(b"null", last_modified=now, timestamp=now)
