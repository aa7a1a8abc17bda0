"""The HTTP/1.1 protocol `serve` runs: uvicorn's httptools protocol plus the
limits it lacks (issue 10, docs/operations.md "Limits and timeouts").

uvicorn bounds open connections (`limit_concurrency`: a 503 beyond it, sent
here as soon as such a connection opens) and
idle keep-alive connections (`timeout_keep_alive`), and we pass it those
settings. But with httptools it has no limit on the size of a request's
head and no timeout for reading it: one 50 MB header grew the process by
tens of MB while httptools concatenated it, and a client sending its
headers at 1 byte/s held its connection for ever. h11 bounds the size but
is pure Python, slower on every request; so this subclass adds, on the
httptools path:

- a size limit on each header line and on the whole head (request target
  plus header lines): 431 (414 for the target alone), then the connection
  is closed;
- a timeout from the connection's start, or from a request's first byte,
  until the end of its headers: the connection is closed. One timer per
  connection checks it, re-armed for when the current head would be late:
  a timer per request (call_later and cancel) cost 3 µs of the 17 µs this
  protocol spends on a request.

Measured cost of the limits: 2 µs per request in the protocol alone (16 ->
18 µs, a Firefox-like request fed to the protocol in process), about
4 µs of the ~50 µs of server CPU of a whole `/__lbheartbeat__` request.

And one thing for speed: uvicorn writes a response's head and its body
in two `transport.write` calls, and the loop sends each at once: two
`send()`s, two TCP segments for the client to wake up for. The protocol's
transport is wrapped so that the writes of one event-loop turn go out as
one (`_CoalescingTransport`).
"""

from __future__ import annotations

import asyncio
import logging

import httptools
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from syncstorage.settings import Settings

log = logging.getLogger("syncstorage.http")
PROTOCOL = "syncstorage.httpserver:LimitedHttpToolsProtocol"


class _Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class _CoalescingTransport:
    """The connection's transport, with the writes of one event-loop turn
    sent in one `write` at the end of the turn (`call_soon`: it runs before
    the loop reads the socket again, so the order of everything written is
    kept). The steady benchmark's profile showed uvicorn's two writes per
    response at 9 % of the server's samples (docs/performance.md).
    Everything else is the transport's own."""

    __slots__ = ("_transport", "_loop", "_pending")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] | None = None

    def write(self, data: bytes) -> None:
        if not data:
            return
        if self._pending is None:
            self._pending = [data]
            self._loop.call_soon(self._flush)
        else:
            self._pending.append(data)

    def _flush(self) -> None:
        pending, self._pending = self._pending, None
        # a connection lost since the write: dropped, as the transport
        # itself drops what is written after close
        if pending and not self._transport.is_closing():
            self._transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def close(self) -> None:
        self._flush()  # what was written goes first, as with the transport itself
        self._transport.close()

    def abort(self) -> None:
        self._pending = None
        self._transport.abort()

    def get_write_buffer_size(self) -> int:
        pending = sum(map(len, self._pending)) if self._pending else 0
        return pending + self._transport.get_write_buffer_size()

    def __getattr__(self, name: str):
        return getattr(self._transport, name)


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    # Set by configure() in each server process before it accepts
    # connections: uvicorn creates the protocol itself, from a class name.
    max_header_line_bytes: int
    max_header_bytes: int
    header_timeout: float

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        coalescing = _CoalescingTransport(transport, self.loop)
        super().connection_made(coalescing)  # type: ignore[arg-type]
        self._in_head = True  # reading a request's head (or waiting for one)
        self._head_bytes = 0  # bytes of an unfinished head received so far
        # when the head being read began (loop time), None when not reading one
        self._head_started: float | None = self.loop.time()
        self._head_timer = self.loop.call_later(self.header_timeout, self._check_head_time)
        # uvicorn counts connections against `limit_concurrency` only once a
        # request's head has arrived, so a connection beyond the bound that
        # sends nothing was held until header_timeout: a flood of idle
        # connections kept up to header_timeout x rate file descriptors.
        # Beyond the bound the answer is known now: 503 and close at once.
        if self.limit_concurrency is not None and len(self.connections) >= self.limit_concurrency:
            self._refuse(_Refused(503, f"over {self.limit_concurrency} open connections"))

    def connection_lost(self, exc: Exception | None) -> None:
        self._head_timer.cancel()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        # uvicorn's data_received, plus the refusals and the head count
        counted = self._in_head
        self._message_ended = False
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            if isinstance(exc.__context__, _Refused):
                self._refuse(exc.__context__)
            else:
                self._invalid()
            return
        except httptools.HttpParserError:
            self._invalid()
            return
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
        # Bytes of a head not finished yet: httptools keeps them all until
        # it is. A chunk that also holds the end of the previous request
        # (pipelining) is not counted: at most one read (256 KiB) more is
        # buffered then, and on_headers_complete checks exactly.
        if counted and self._in_head and not self._message_ended:
            self._head_bytes += len(data)
            if self._head_bytes > self.max_header_bytes:
                self._refuse(_Refused(431, f"request head over {self.max_header_bytes} bytes"))

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._head_bytes = 0
        if self._head_started is None:  # else: timed from the connection's start
            self._head_started = self.loop.time()

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._head_started = None
        total = len(self.url)
        if total > self.max_header_bytes:
            raise _Refused(414, f"request target over {self.max_header_bytes} bytes")
        for name, value in self.headers:
            size = len(name) + len(value)
            if size > self.max_header_line_bytes:
                raise _Refused(431, f"header line over {self.max_header_line_bytes} bytes")
            total += size
        if total > self.max_header_bytes:
            raise _Refused(431, f"request head over {self.max_header_bytes} bytes")
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head = True
        self._head_bytes = 0
        self._message_ended = True

    def _check_head_time(self) -> None:
        if self.transport.is_closing():
            return
        now = self.loop.time()
        started = self._head_started
        if started is not None and now - started >= self.header_timeout:
            log.info("closed a connection: request head not received within %g s", self.header_timeout)
            self.transport.close()
            return
        due = self.header_timeout if started is None else started + self.header_timeout - now
        self._head_timer = self.loop.call_later(due, self._check_head_time)

    def _refuse(self, refusal: _Refused) -> None:
        """Answer `refusal.status` and close: the rest of the request is not read."""
        log.info("refused a request with %d: %s", refusal.status, refusal.reason)
        body = refusal.reason.encode("ascii")
        content = [STATUS_LINE[refusal.status]]
        for name, value in self.server_state.default_headers:
            content.extend([name, b": ", value, b"\r\n"])
        content.append(b"content-type: text/plain; charset=utf-8\r\nconnection: close\r\n")
        content.append(b"content-length: %d\r\n\r\n%s" % (len(body), body))
        self.transport.write(b"".join(content))
        self.transport.close()

    def _invalid(self) -> None:
        msg = "Invalid HTTP request received."
        self.logger.warning(msg)
        self.send_400_response(msg)


def configure(settings: Settings) -> dict:
    """Set the protocol's limits from `settings` in this process; return
    the matching uvicorn.run() options."""
    LimitedHttpToolsProtocol.max_header_line_bytes = settings.max_header_line_bytes
    LimitedHttpToolsProtocol.max_header_bytes = settings.max_header_bytes
    LimitedHttpToolsProtocol.header_timeout = settings.header_timeout
    return {
        "http": PROTOCOL,
        "limit_concurrency": settings.max_connections,
        "timeout_keep_alive": settings.keep_alive_timeout,
    }
