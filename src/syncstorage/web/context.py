"""The values a storage API handler works with.

A handler is a plain synchronous function `handler(ctx, call) -> Result`:
`ctx` is built once per app, `call` once per request. Handlers run in a
worker thread and may be run several times (conflict retry, storage-model
§5.4), so they keep no state outside the storage session.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import orjson

from syncstorage.settings import Settings
from syncstorage.storage import Storage

if TYPE_CHECKING:  # the router imports the route table, which imports the handlers
    from syncstorage.web.routing import Target

# Settings whose values are advertised by /info/configuration and enforced
# (storage-api §0, §8); max_quota_limit joins them when quota is on.
LIMIT_NAMES = (
    "max_request_bytes",
    "max_post_bytes",
    "max_post_records",
    "max_record_payload_bytes",
    "max_total_bytes",
    "max_total_records",
)


class Context:
    """Per-app constants, computed once."""

    def __init__(self, settings: Settings, storage: Storage) -> None:
        self.storage = storage
        self.limits = {name: getattr(settings, name) for name in LIMIT_NAMES}
        self.quota_limit = settings.max_quota_limit if settings.quota_enabled else None
        advertised = dict(self.limits)
        if self.quota_limit is not None:
            advertised["max_quota_limit"] = self.quota_limit
        self.configuration_body = orjson.dumps(advertised)
        self.reject_old_ios_clients = settings.reject_old_ios_clients
        self.allow_migration = settings.allow_migration
        self.conflict_retry_seconds = settings.conflict_retry_seconds
        self.database_timeout = settings.database_timeout
        self.body_timeout = settings.body_timeout
        # Headers added to every storage API answer (storage-api §7)
        self.extra_headers: list[tuple[bytes, bytes]] = []
        if settings.backoff_seconds:
            self.extra_headers.append((b"x-weave-backoff", str(settings.backoff_seconds).encode()))


@dataclass(slots=True)
class Call:
    """One request to the storage API, as handlers see it."""

    method: str  # HEAD is passed as GET
    target: Target
    query: dict[str, str]  # decoded (storage-api §2)
    headers: dict[str, str]  # lower-case names
    body: bytes
    fxa_uid: str | None = None  # the token's, once authenticated (storage-model §9)


@dataclass(slots=True)
class Result:
    """A successful answer; errors are raised as HTTPError instead."""

    body: bytes
    status: int = 200
    last_modified: int | None = None  # ms -> X-Last-Modified
    timestamp: int | None = None  # ms -> X-Weave-Timestamp (a write's T)
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Context, Call], Result]
