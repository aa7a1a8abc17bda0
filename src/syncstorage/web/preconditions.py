"""X-If-Modified-Since / X-If-Unmodified-Since (storage-api §6.1), checked
in one place for every route that has them.

Handlers open their storage session through `session(ctx, call)`, which
reads the timestamp the route table names (`Route.timestamp`) under the
session's lock and checks the preconditions against it before the handler
reads or writes anything: a 412 writes nothing. A conflicted handler is run
again in a new session (web/api.py `_retrying_conflicts`), so the check is
made again against the timestamp of that attempt.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING

from syncstorage.storage import Session
from syncstorage.web.errors import HTTPError, bad_request
from syncstorage.web.validation import parse_timestamp

if TYPE_CHECKING:
    from syncstorage.web.context import Call, Context
    from syncstorage.web.routing import Target


class Timestamp(enum.Enum):
    """The timestamp a route's preconditions compare with."""

    STORAGE = "storage"  # the user's newest collection (§8)
    COLLECTION = "collection"  # 0 for a collection the user does not have
    ITEM = "item"  # the live item's, 0 when there is none


class Preconditions:
    """The two headers of one request, in ms; both at once are a 400."""

    __slots__ = ("modified_since", "unmodified_since")

    def __init__(self, headers: Mapping[str, str]) -> None:
        ims = headers.get("x-if-modified-since")
        ius = headers.get("x-if-unmodified-since")
        if ims is not None and ius is not None:
            raise bad_request()
        self.modified_since = None if ims is None else parse_timestamp(ims)
        self.unmodified_since = None if ius is None else parse_timestamp(ius)

    def check(self, s: Session, target: Target) -> int | None:
        """The timestamp `target.route` names, read in `s`, after raising
        304/412 (no body, X-Last-Modified = that timestamp) when not met.

        An item's timestamp is read only when a header needs it: the item
        handlers answer with the record's own, read with the record."""
        which = target.route.timestamp
        if which is Timestamp.ITEM:
            if self.modified_since is None and self.unmodified_since is None:
                return None
            ts = s.item_timestamp(target.item_id)
        elif which is Timestamp.COLLECTION:
            ts = s.collection_timestamp()
        else:
            ts = s.storage_timestamp()
        self.check_timestamp(ts or 0)
        return ts

    def check_timestamp(self, resource: int) -> None:
        """Raise 304/412 (no body, X-Last-Modified = `resource`) when not met."""
        if self.modified_since is not None and resource <= self.modified_since:
            raise HTTPError(304, None, last_modified=resource)
        if self.unmodified_since is not None and resource > self.unmodified_since:
            raise HTTPError(412, None, last_modified=resource)


@contextmanager
def session(ctx: Context, call: Call, *, write: bool = False) -> Iterator[tuple[Session, int | None]]:
    """The request's storage session and its route's timestamp (None for a
    collection the user does not have, or an item when no header needed
    it), the preconditions met. The headers are parsed first, so a 400 for
    them costs no database work."""
    pre = Preconditions(call.headers)
    target = call.target
    with ctx.storage.session(target.uid, target.collection, write=write, fxa_uid=call.fxa_uid) as s:
        yield s, pre.check(s, target)
