"""Request bodies of PUT item and POST collection (storage-api §5.1, §9.2, §9.6).

Body-level failures reject the whole request (400 body 8, 415); per-item
failures of a POST become entries of its `failed` map.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from syncstorage.storage import BSOUpdate
from syncstorage.web.errors import HTTPError, invalid_bso
from syncstorage.web.validation import check_bso, is_bso_id, payload_bytes

NEWLINES = "application/newlines"
# Media types read as JSON; "" is a missing Content-Type (storage-api §5.1)
_JSON_TYPES = frozenset(("", "application/json", "text/plain"))
# storage-api §9.6: a known-bad crypto/keys payload some clients once uploaded
_BAD_CRYPTO_RE = re.compile(r'"IV":\s*"AAAAAAAAAAAAAAAAAAAAAA=="')


def media_type(content_type: str | None) -> str:
    """The media type without parameters, lower-cased; "" when absent."""
    if not content_type:
        return ""
    return content_type.partition(";")[0].strip().lower()


def _loads(data: bytes) -> Any:  # any JSON value: the callers check its type
    # orjson rejects NaN/Infinity and lone surrogates, and turns integers
    # beyond 64 bits into floats (then refused as "JSON integers only").
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        raise invalid_bso() from None


def _parse_newlines(body: bytes) -> list[Any]:
    lines = body.split(b"\n")
    if lines[-1] == b"":  # one final terminator (or an empty body)
        lines.pop()
    return [_loads(line[:-1] if line.endswith(b"\r") else line) for line in lines]


def _reject_bad_crypto(collection: str, payloads: Iterable[object]) -> None:
    if collection == "crypto" and any(
        type(p) is str and _BAD_CRYPTO_RE.search(p) for p in payloads
    ):
        raise invalid_bso()


class PostItems:
    """The outcome of reading a POST body: what to write, what failed."""

    __slots__ = ("accepted", "success", "failed", "payload_bytes")

    def __init__(self) -> None:
        self.accepted: list[BSOUpdate] = []
        self.success: list[str] = []
        self.failed: dict[str, str] = {}
        self.payload_bytes = 0  # of the accepted items (quota, storage-api §13)


def parse_post(
    body: bytes, content_type: str | None, collection: str, limits: Mapping[str, int]
) -> PostItems:
    """Parse and validate a POST body; per-item checks in body order (§9.2)."""
    kind = media_type(content_type)
    if kind == NEWLINES:
        elements = _parse_newlines(body)
    elif kind in _JSON_TYPES:
        elements = _loads(body)
        if type(elements) is not list:
            raise invalid_bso()
    else:
        raise HTTPError(415)

    seen: set[str] = set()
    for element in elements:
        if type(element) is not dict:
            raise invalid_bso()
        id = element.get("id")
        if type(id) is not str or id in seen:
            raise invalid_bso()
        seen.add(id)
    _reject_bad_crypto(collection, (e.get("payload") for e in elements))

    max_records = limits["max_post_records"]
    max_bytes = limits["max_post_bytes"]
    max_payload = limits["max_record_payload_bytes"]
    result = PostItems()
    count = total = 0
    for element in elements:
        id = element["id"]
        update = check_bso(element, id) if is_bso_id(id) else "invalid id"
        if isinstance(update, str):
            result.failed[id] = update
            continue
        count += 1
        if count > max_records:
            result.failed[id] = "retry bso"
            continue
        size = payload_bytes(update.payload)
        total += size
        if size > max_payload or total > max_bytes:
            result.failed[id] = "retry bytes"
            continue
        result.accepted.append(update)
        result.success.append(id)
        result.payload_bytes += size
    return result


def parse_put(
    body: bytes, content_type: str | None, collection: str, id: str, max_payload: int
) -> BSOUpdate:
    """Parse and validate a PUT body; any failure is 400 body 8 (§5.1)."""
    if media_type(content_type) not in _JSON_TYPES:
        raise HTTPError(415)
    obj = _loads(body)
    if type(obj) is not dict:
        raise invalid_bso()
    if any(isinstance(value, (dict, list)) for value in obj.values()):
        raise invalid_bso()
    if "id" in obj and (type(obj["id"]) is not str or not is_bso_id(obj["id"])):
        raise invalid_bso()
    update = check_bso(obj, id)  # the URL id wins
    if isinstance(update, str) or payload_bytes(update.payload) > max_payload:
        raise invalid_bso()
    _reject_bad_crypto(collection, [update.payload])
    return update
