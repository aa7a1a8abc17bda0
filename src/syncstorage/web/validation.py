"""Validation of what clients send: query parameters, headers, BSOs.

Everything here is pure (no I/O) and raises `HTTPError` with the status and
legacy body the spec assigns to each failure.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from typing import Literal
from urllib.parse import parse_qsl

from syncstorage.storage import BSOUpdate, ItemQuery, Sort
from syncstorage.timestamps import parse_ms
from syncstorage.web.errors import SIZE_LIMIT, bad_request

MAX_IDS = 100  # storage-api §9.1
SORTINDEX_LIMIT = 999_999_999  # storage-api §3.1: -limit ... +limit inclusive
TTL_LIMIT = 999_999_999  # storage-api §3.1: 0 ... limit inclusive
# Larger query values mean the same as these and would overflow SQL integers:
# no record is modified after year 2286, no listing has a billion rows.
MAX_TIMESTAMP_MS = 10**16
MAX_LIMIT = 10**9
DIGITS_RE = re.compile(r"[0-9]+")
_BSO_ID_RE = re.compile(r"[\x20-\x7e]{1,64}")  # storage-api §1.2, on the decoded id
_SORTS = {s.value: s for s in Sort}


# --- query string (storage-api §2) ----------------------------------------------


def parse_query(query_string: str) -> dict[str, str]:
    """Split at `&`, drop empty segments, split name/value at the first `=`,
    percent-decode both with `+` as space. A repeated name keeps its last value."""
    if not query_string:
        return {}
    return dict(parse_qsl(query_string, keep_blank_values=True, errors="replace"))


def bounded_int(digits: str, ceiling: int) -> int:
    """The value of a string of ASCII digits, capped at `ceiling`.

    Checks the length first: Python refuses to convert more than 4300 digits
    (a ValueError, hence a 500) and a client may send any number of them."""
    significant = digits.lstrip("0")
    if len(significant) > len(str(ceiling)):
        return ceiling
    return min(int(significant or "0"), ceiling)


def is_bso_id(value: str) -> bool:
    return _BSO_ID_RE.fullmatch(value) is not None


def parse_timestamp(value: str) -> int:
    try:
        return min(parse_ms(value), MAX_TIMESTAMP_MS)
    except ValueError:
        raise bad_request() from None


def parse_ids(value: str) -> list[str]:
    """`ids=a,b,...`: trimmed, empties dropped, 1..100 valid ids (storage-api §9.1)."""
    ids = [i for i in (part.strip() for part in value.split(",")) if i]
    if not ids or len(ids) > MAX_IDS or not all(is_bso_id(i) for i in ids):
        raise bad_request()
    return ids


def parse_item_query(query: Mapping[str, str]) -> ItemQuery:
    """Query parameters of `GET /storage/{collection}` (storage-api §9.1)."""
    q = ItemQuery(full="full" in query)
    if (ids := query.get("ids")) is not None:
        q.ids = parse_ids(ids)
    if (newer := query.get("newer")) is not None:
        q.newer = parse_timestamp(newer)
    if (older := query.get("older")) is not None:
        q.older = parse_timestamp(older)
    if (limit := query.get("limit")) is not None:
        if DIGITS_RE.fullmatch(limit) is None:
            raise bad_request()
        q.limit = bounded_int(limit, MAX_LIMIT)
    if (sort := query.get("sort")) is not None:
        if sort not in _SORTS:
            raise bad_request()
        q.sort = _SORTS[sort]
    if (offset := query.get("offset")) is not None:
        q.offset = offset
    return q


# --- batch parameters (storage-api §9.3, storage-model §7.1) -------------------


def encode_batch_id(batch: int) -> str:
    """Standard base64 of the decimal text: only letters, digits and `=`."""
    return base64.b64encode(str(batch).encode()).decode()


def decode_batch_id(value: str) -> int:
    """Base64 of a decimal string, else a plain decimal string; else 400."""
    try:
        decoded: str | None = base64.b64decode(value, validate=True).decode("ascii")
    except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
        decoded = None
    for text in (decoded, value):
        # at most 18 digits: the id is a BIGINT (ms timestamp, storage-model §7.1)
        if text is not None and len(text) <= 18 and DIGITS_RE.fullmatch(text):
            return int(text)
    raise bad_request()


class BatchParams:
    """`batch` / `commit` of a POST. `batch` None: plain POST; "new": start one."""

    __slots__ = ("batch", "commit")

    def __init__(self, query: Mapping[str, str]) -> None:
        batch = query.get("batch")
        commit = query.get("commit")
        if commit is not None and (commit.lower() != "true" or batch is None):
            raise bad_request()
        self.commit = commit is not None
        self.batch: int | Literal["new"] | None
        if batch is None:
            self.batch = None
        elif batch == "" or batch.lower() == "true":
            # batch=true&commit=true is a plain POST (storage-api §9.3 Decision)
            self.batch = None if self.commit else "new"
            self.commit = False
        else:
            self.batch = decode_batch_id(batch)


# --- headers ------------------------------------------------------------------


# storage-api §6.2: header -> name of the Settings limit it is compared with
SIZE_HINT_HEADERS = (
    ("x-weave-records", "max_post_records"),
    ("x-weave-bytes", "max_post_bytes"),
    ("x-weave-total-records", "max_total_records"),
    ("x-weave-total-bytes", "max_total_bytes"),
)


def check_size_hints(headers: Mapping[str, str], limits: Mapping[str, int]) -> None:
    """400/0 for a value that is not a non-negative integer, 400/17 over limit."""
    for header, limit_name in SIZE_HINT_HEADERS:
        value = headers.get(header)
        if value is None:
            continue
        value = value.strip()
        if DIGITS_RE.fullmatch(value) is None:
            raise bad_request()
        limit = limits[limit_name]
        if bounded_int(value, limit + 1) > limit:
            raise bad_request(SIZE_LIMIT)


# --- BSOs (storage-api §3.1) ---------------------------------------------------

_BSO_KEYS = frozenset(("id", "modified", "collection", "sortindex", "payload", "ttl"))


def payload_bytes(payload: str | None) -> int:
    if not payload:
        return 0
    # ASCII is the common case (clients send base64 ciphertext in JSON)
    return len(payload) if payload.isascii() else len(payload.encode())


def check_bso(obj: dict, id: str) -> BSOUpdate | str:
    """A BSOUpdate for a valid object, else the reason it is invalid.

    `id` is the id the record is stored under (the body's for POST, the URL's
    for PUT); a body `id` is validated by the caller."""
    for key in obj:
        if key not in _BSO_KEYS:
            return f"unknown field {key}"
    sortindex = obj.get("sortindex")
    # JSON integers only: bool is an int subclass in Python, floats are not ints
    if sortindex is not None and (
        type(sortindex) is not int or not -SORTINDEX_LIMIT <= sortindex <= SORTINDEX_LIMIT
    ):
        return "invalid sortindex"
    ttl = obj.get("ttl")
    if ttl is not None and (type(ttl) is not int or not 0 <= ttl <= TTL_LIMIT):
        return "invalid ttl"
    payload = obj.get("payload")
    if payload is not None:
        if type(payload) is not str:
            return "payload not a string"
        # PostgreSQL text cannot hold U+0000 (a 500 otherwise); clients never
        # send it (their payloads are JSON text, where it would be escaped),
        # so it is refused on every database alike.
        if "\x00" in payload:
            return "payload contains NUL"
    return BSOUpdate(id=id, payload=payload, sortindex=sortindex, ttl=ttl)
