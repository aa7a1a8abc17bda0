"""A minimal HTTP/1.1 keep-alive client for the load generator.

Hand-written on purpose: on a 2-core machine the generator competes with
the server for CPU, and a general-purpose client (httpx) spends several
times more CPU per request than this one (see docs/performance.md,
"The load generator"). It does exactly what the benchmark needs: one
request at a time per connection, Content-Length bodies, responses parsed
by httptools (the C parser uvicorn also uses).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import httptools


@dataclass(slots=True)
class Response:
    status: int
    headers: dict[bytes, bytes]  # lower-case names
    body: bytes

    def header(self, name: bytes) -> str | None:
        value = self.headers.get(name)
        return None if value is None else value.decode("latin-1")


class ConnectionClosed(Exception):
    """The server closed the connection before answering."""


class _Protocol(asyncio.Protocol):
    """One TCP connection; feeds bytes to httptools and resolves one future
    per response."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[Response] | None = None
        self.closed = False
        self.responses = 0  # completed on this connection
        self.received = False  # bytes of the current response arrived
        self._headers: dict[bytes, bytes] = {}
        self._body: list[bytes] = []

    # asyncio callbacks
    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.received = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(exc)

    def connection_lost(self, exc) -> None:
        self.closed = True
        self._fail(ConnectionClosed(f"connection lost: {exc!r}" if exc else "connection closed by server"))

    # httptools callbacks
    def on_message_begin(self) -> None:
        self._headers = {}
        self._body = []

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers[name.lower()] = value

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        waiter, self.waiter = self.waiter, None
        self.responses += 1
        self.received = False
        if waiter is not None and not waiter.done():
            body = self._body[0] if len(self._body) == 1 else b"".join(self._body)
            waiter.set_result(Response(self.parser.get_status_code(), self._headers, body))

    def _fail(self, exc: BaseException) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)


class Connection:
    """A keep-alive connection to one server; reconnects when the server
    has closed it (uvicorn closes idle connections after 5 s)."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._host_header = f"Host: {host}:{port}\r\n".encode()
        self._protocol: _Protocol | None = None

    async def _connected(self) -> _Protocol:
        if self._protocol is None or self._protocol.closed:
            loop = asyncio.get_running_loop()
            _, self._protocol = await loop.create_connection(_Protocol, self.host, self.port)
        return self._protocol

    async def request(
        self, method: str, target: str, headers: str = "", body: bytes | None = None
    ) -> Response:
        """Send one request and wait for its response.

        `headers` is ready-made header text ("Name: value\\r\\n" lines) so the
        caller builds it once, cheaply; Host and Content-Length are added here.
        """
        head = f"{method} {target} HTTP/1.1\r\n{headers}".encode() + self._host_header
        if body is None:
            data = head + b"\r\n"
        else:
            data = head + f"Content-Length: {len(body)}\r\n\r\n".encode() + body
        protocol = await self._connected()
        try:
            return await self._exchange(protocol, data)
        except ConnectionClosed:
            # The server closed an idle keep-alive connection just as we
            # reused it (uvicorn: after 5 s): nothing was processed, so send
            # again on a new connection, as browsers do.
            if protocol.responses == 0 or protocol.received:
                raise
            return await self._exchange(await self._connected(), data)

    @staticmethod
    async def _exchange(protocol: _Protocol, data: bytes) -> Response:
        protocol.waiter = waiter = asyncio.get_running_loop().create_future()
        protocol.transport.write(data)
        return await waiter

    def close(self) -> None:
        if self._protocol is not None and self._protocol.transport is not None:
            self._protocol.transport.close()
        self._protocol = None
