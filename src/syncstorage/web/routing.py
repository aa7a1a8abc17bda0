"""Routing of `/1.5/...` paths, on the RAW (undecoded) path.

Why hand-written and not Starlette's router: Starlette matches the
percent-DECODED `scope["path"]`, but a BSO id may contain `/` (sent as `%2F`)
or `\\n` once decoded, which breaks segment-based patterns. Here the raw path
is split at literal `/` first and each segment is percent-decoded afterwards,
then checked against the component rules of storage-api §1.2. The route
table (web/routes.py) is five shapes deep, so a split and a few comparisons
beat a regex walk.
"""

from __future__ import annotations

import re
from typing import NamedTuple
from urllib.parse import unquote

from syncstorage.web.errors import not_found
from syncstorage.web.routes import ROUTES, Route
from syncstorage.web.validation import is_bso_id

API_PREFIX = "/1.5/"

# storage-api §1.2, full matches on the decoded segment (a BSO id's: is_bso_id)
_UID_RE = re.compile(r"[0-9]{1,10}")
_COLLECTION_RE = re.compile(r"[a-zA-Z0-9._-]{1,32}")

_STORAGE_ROOT = ROUTES["storage_root"]
_COLLECTION = ROUTES["collection"]
_ITEM = ROUTES["item"]
_INFO = {name.removeprefix("info/"): route for name, route in ROUTES.items() if name.startswith("info/")}


class Target(NamedTuple):
    """What a /1.5/ path names."""

    route: Route
    uid: int
    collection: str | None = None
    item: str | None = None

    # The handlers of collection and item routes read these: the router
    # always fills them for those routes, so None there is a routing bug.
    @property
    def collection_name(self) -> str:
        if self.collection is None:
            raise LookupError(f"route {self.route.name} names no collection")
        return self.collection

    @property
    def item_id(self) -> str:
        if self.item is None:
            raise LookupError(f"route {self.route.name} names no item")
        return self.item


def _decode(segment: str) -> str:
    return unquote(segment) if "%" in segment else segment


def resolve(raw_path: str) -> Target:
    """Map a raw path below the prefix (starting with /1.5/) to its Target.

    Raises 404 for unknown shapes and invalid components (storage-api §1.2,
    §1.3)."""
    parts = raw_path[len(API_PREFIX) :].split("/")
    uid_text = _decode(parts[0])
    if _UID_RE.fullmatch(uid_text) is None:
        raise not_found()
    uid = int(uid_text)
    n = len(parts)
    if n == 1:
        return Target(_STORAGE_ROOT, uid)
    kind = parts[1]
    if kind == "info" and n == 3 and (info := _INFO.get(parts[2])) is not None:
        return Target(info, uid)
    if kind == "storage":
        if n == 2:
            return Target(_STORAGE_ROOT, uid)
        collection = _decode(parts[2])
        if _COLLECTION_RE.fullmatch(collection) is None:
            raise not_found()
        if n == 3:
            return Target(_COLLECTION, uid, collection)
        if n == 4:
            item = _decode(parts[3])
            if not is_bso_id(item):
                raise not_found()
            return Target(_ITEM, uid, collection, item)
    raise not_found()
