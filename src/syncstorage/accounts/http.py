"""What every accounts endpoint shares: the bounded JSON body, the error
answers, the database and thread hand-off (spec accounts.md §1.3).

An endpoint is a blocking function `handler(call) -> body` (or
`(status, body, headers)`), run in a worker thread; `endpoint(handler)` turns
it into a Starlette endpoint that reads the body (at most MAX_BODY_BYTES),
answers ApiError as FxA does, a database that is away as 503 errno 201 and
anything unexpected as 500 errno 999 (logged, never with the body).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from syncstorage.accounts import errors
from syncstorage.accounts.hawk import SignedRequest
from syncstorage.auth.nonces import NonceStoreUnavailable

log = logging.getLogger(__name__)

# keys_jwe is a few hundred bytes (spec: accept at least 8 KiB); device
# command payloads (encrypted tabs) a few KiB. 64 KiB leaves room for all.
MAX_BODY_BYTES = 64 * 1024
JSON_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


@dataclass
class Call:
    """One request as the handlers see it."""

    request: Request
    signed: SignedRequest
    client_address: str
    query: dict[str, str]
    signer: str | None = None  # the token id whose Hawk signature was checked, once it was
    refresh_token_ok: bool = False  # set by the route: see AccountsContext.route
    unconfirmed_ok: bool = False  # likewise
    _json: Any = field(default=None, repr=False)

    def json(self) -> dict[str, Any]:
        """The body as a JSON object (an empty body is `{}`), or 400 errno 106."""
        if self._json is None:
            body = self.signed.body
            if not body.strip():
                self._json = {}
            else:
                try:
                    self._json = orjson.loads(body)
                except orjson.JSONDecodeError:
                    raise errors.invalid_json("body is not JSON") from None
                if not isinstance(self._json, dict):
                    raise errors.invalid_json("body is not a JSON object")
        return self._json

    @property
    def user_agent(self) -> str | None:
        return self.request.headers.get("user-agent")


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(body), status_code=status, media_type="application/json",
        headers={**JSON_HEADERS, **(headers or {})},
    )


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isascii() or not declared.isdigit() or len(declared) > 12:
            raise errors.invalid_parameter("content-length", "malformed Content-Length")
        if int(declared) > MAX_BODY_BYTES:
            raise errors.body_too_large()
    elif request.method in ("POST", "PUT") and "chunked" not in request.headers.get("transfer-encoding", ""):
        raise errors.missing_content_length()
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise errors.body_too_large()
        chunks.append(chunk)
    return b"".join(chunks)


def endpoint(handler: Callable[[Call], Any], route: str, *, is_unavailable: Callable[[sa.exc.SQLAlchemyError], bool]) -> Callable:
    """`is_unavailable(exc)`: whether a database error is the database being
    away or locked (answered 503) rather than a bug."""

    async def answer(request: Request) -> Response:
        request.state.route = route
        try:
            body = await _read_body(request)
            raw_query = request.scope.get("query_string", b"").decode("latin-1")
            call = Call(
                request=request,
                signed=SignedRequest(
                    method=request.method,
                    path_qs=request.scope.get("raw_path", request.url.path.encode()).decode("latin-1")
                    + (f"?{raw_query}" if raw_query else ""),
                    authorization=request.headers.get("authorization"),
                    content_type=request.headers.get("content-type", ""),
                    body=body,
                ),
                client_address=request.client.host if request.client else "",
                query=dict(request.query_params),
            )
            result = await run_in_threadpool(handler, call)
        except errors.ApiError as exc:
            request.state.reason = exc.reason
            return json_response(exc.body(), exc.status, exc.headers())
        except ClientDisconnect:
            return Response(status_code=400)
        except NonceStoreUnavailable as exc:
            request.state.reason = str(exc)
            error = errors.unavailable()
            return json_response(error.body(), error.status, error.headers())
        except Exception as exc:
            if isinstance(exc, sa.exc.SQLAlchemyError) and is_unavailable(exc):
                request.state.reason = "accounts database unavailable"
                error = errors.unavailable()
            else:
                log.exception("accounts: unexpected failure in %s", route)  # a bug
                error = errors.internal()
            return json_response(error.body(), error.status, error.headers())
        if isinstance(result, Response):
            return result
        if isinstance(result, tuple):
            status, payload, headers = result
            return json_response(payload, status, headers)
        return json_response(result)

    return answer
