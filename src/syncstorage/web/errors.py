"""Errors the HTTP layer answers with, and their legacy Weave bodies.

Every 4xx/5xx under /1.5/ is `application/json` with a bare integer body
(storage-api §14.1); 304 and 412 have no body. Handlers raise `HTTPError`
anywhere (also inside a storage session, which then rolls back) and the
dispatcher turns it into the response.
"""

from __future__ import annotations

from syncstorage.db.errors import RETRY_AFTER_UNAVAILABLE as RETRY_AFTER_UNAVAILABLE

# Legacy Weave error codes (storage-api §14.1)
GENERIC = 0
INVALID_BSO = 8
OVER_QUOTA = 14
SIZE_LIMIT = 17

# Seconds a client should wait after a 503 for a write conflict (storage-api §4.3)
RETRY_AFTER_CONFLICT = "10"
RETRY_AFTER_MIGRATION = "300"  # the user is moving to another node (storage-model §9)


class HTTPError(Exception):
    """An answer other than success. `code` None means "no body" (304/412)."""

    def __init__(
        self,
        status: int,
        code: int | None = GENERIC,
        headers: dict[str, str] | None = None,
        *,
        last_modified: int | None = None,
    ) -> None:
        super().__init__(status, code)
        self.status = status
        self.code = code
        self.headers = headers or {}
        # ms; rendered as X-Last-Modified (304/412 carry it, storage-api §6.1)
        self.last_modified = last_modified


def bad_request(code: int = GENERIC) -> HTTPError:
    return HTTPError(400, code)


def invalid_bso() -> HTTPError:
    return HTTPError(400, INVALID_BSO)


def not_found() -> HTTPError:
    return HTTPError(404)


def error_body(code: int | None) -> bytes:
    return b"" if code is None else str(code).encode()
