"""Offset tokens of a listing (storage-api §12): pure functions, no SQL.

A token is `<bound>:<skip>` for the timestamp sorts (the `modified` of the
page's last item and how many items of the next page share it) and
`<skip>` for `sort=index`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .. import BSO, InvalidOffsetError, ItemQuery, Sort

_OFFSET_PART = re.compile(r"[0-9]{1,18}")  # fits a BIGINT, no sign


def decode_offset(query: ItemQuery) -> tuple[int | None, int]:
    """(bound, skip) of the query's token; bound is None for index sorts."""
    token = query.offset
    if token is None:
        return None, 0
    if query.sort is Sort.INDEX:
        if not _OFFSET_PART.fullmatch(token):
            raise InvalidOffsetError(f"invalid offset {token!r}")
        return None, int(token)
    bound_text, _, skip_text = token.partition(":")
    if not (_OFFSET_PART.fullmatch(bound_text) and _OFFSET_PART.fullmatch(skip_text)):
        raise InvalidOffsetError(f"invalid offset {token!r}")
    bound = int(bound_text)
    if (query.newer is not None and bound < query.newer) or (
        query.older is not None and bound > query.older
    ):
        raise InvalidOffsetError(f"offset {token!r} is outside newer/older")
    return bound, int(skip_text)


def next_offset(sort: Sort, items: Sequence[BSO], bound: int | None, skip: int) -> str:
    if sort is Sort.INDEX:
        return str(skip + len(items))
    last = items[-1].modified
    trailing = 0
    for item in reversed(items):
        if item.modified != last:
            break
        trailing += 1
    if trailing == len(items) and bound == last:
        trailing += skip  # the whole page sat on the previous bound
    return f"{last}:{trailing}"
