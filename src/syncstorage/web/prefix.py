"""Removal of the public_url path prefix (storage-api §1.1).

A path that starts with the prefix has it removed; any other path is routed
as-is, so the server works whether a reverse proxy strips the prefix or not.
Both `raw_path` (what the storage API routes on and Hawk verifies) and the
decoded `path` (what Starlette's router uses) are adjusted. `raw_path` is
optional in ASGI; it is filled in here so everything after can rely on it.
"""

from __future__ import annotations

from typing import TypeVar
from urllib.parse import quote, unquote, urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

P = TypeVar("P", str, bytes)


def public_url_prefix(public_url: str) -> str:
    """The path part of public_url, without trailing slash ("" for none)."""
    return urlsplit(public_url).path.rstrip("/")


def _without_prefix(path: P, prefix: P, slash: P) -> P | None:
    """`path` below `prefix`, or None when it is not under the prefix."""
    if path == prefix:
        return slash
    if path.startswith(prefix + slash):
        return path[len(prefix) :]
    return None


class PrefixMiddleware:
    def __init__(self, app: ASGIApp, prefix: str) -> None:
        self.app = app
        self.raw_prefix = prefix.encode()
        self.prefix = unquote(prefix)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            raw_path = scope.get("raw_path") or quote(scope["path"]).encode()
            raw_path = raw_path.partition(b"?")[0]  # some servers include the query
            path = scope["path"]
            if self.raw_prefix:
                stripped = _without_prefix(raw_path, self.raw_prefix, b"/")
                if stripped is not None:
                    raw_path = stripped
                    path = _without_prefix(path, self.prefix, "/") or path
            scope = {**scope, "raw_path": raw_path, "path": path}
        await self.app(scope, receive, send)
