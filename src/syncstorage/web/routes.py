"""The storage API's routes as data (storage-api §1.3): one frozen `Route`
per path shape, read by the router (web/routing.py), the pipeline
(web/api.py) and, through the template the pipeline puts in the request's
state, the metrics.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from syncstorage.web import collection, item, user
from syncstorage.web.context import Handler
from syncstorage.web.preconditions import Timestamp


@dataclass(frozen=True, slots=True)
class Route:
    name: str  # as the request log reports it
    # for metrics: never the path itself, which holds the uid and ids
    template: str
    handlers: Mapping[str, Handler]  # by method; HEAD is served as GET
    # what X-If-* compare with (web/preconditions.py); None: not read
    timestamp: Timestamp | None
    # GETs that read a few rows by key, whatever the data: one user's
    # collection timestamps (§8), a fixed body, one item. Where nothing they
    # do can wait (Storage.reads_never_wait, an in-process nonce store) they
    # run on the event loop: the thread hop and its GIL hand-offs cost more
    # than they do. Steady benchmark, SQLite: -11 % CPU per request, p99
    # 75-95 -> 56-64 ms (docs/performance.md). Listings stay on threads:
    # their size is the client's to choose.
    inline_read: bool = False
    # an expired token is still accepted, for polling clients
    # (auth-and-tokens §5.5)
    expired_token_grace: bool = False


def _info(name: str, handler: Handler, timestamp: Timestamp | None = Timestamp.STORAGE, **flags) -> Route:
    return Route(f"info/{name}", f"/1.5/{{uid}}/info/{name}", {"GET": handler}, timestamp, **flags)


ROUTES: dict[str, Route] = {
    route.name: route
    for route in (
        Route("storage_root", "/1.5/{uid}/storage", {"DELETE": user.delete_storage}, Timestamp.STORAGE),
        _info("collections", user.info_collections, inline_read=True, expired_token_grace=True),
        _info("quota", user.info_quota),
        _info("collection_usage", user.info_collection_usage),
        _info("collection_counts", user.info_collection_counts),
        # no preconditions and X-Last-Modified 0.00 (storage-api §7, production)
        _info("configuration", user.info_configuration, None, inline_read=True),
        Route(
            "collection",
            "/1.5/{uid}/storage/{collection}",
            {
                "GET": collection.get_collection,
                "POST": collection.post_collection,
                "DELETE": collection.delete_collection,
            },
            Timestamp.COLLECTION,
        ),
        Route(
            "item",
            "/1.5/{uid}/storage/{collection}/{id}",
            {"GET": item.get_item, "PUT": item.put_item, "DELETE": item.delete_item},
            Timestamp.ITEM,
            inline_read=True,
        ),
    )
}
