"""What the hostile-client tests share: raw sockets for what a well-behaved
HTTP client would not send, a watch on /__lbheartbeat__ while the server is
under attack, and the server's peak RSS."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from support.client import SyncClient, mint_token
from support.server import RunningServer


def sync_client(server: RunningServer, uid: int = 1) -> SyncClient:
    """A device of user `uid` with a valid token for `server`."""
    token, key = mint_token(server.master_secret, uid, server.public_url)
    return SyncClient(server.base_url, uid, token, key)


def port_of(server: RunningServer) -> int:
    return int(server.base_url.rsplit(":", 1)[1])


def rss_peak_kib(server: RunningServer) -> int:
    """The server process's peak resident set size so far (VmHWM), in KiB."""
    for line in Path(f"/proc/{server.process.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM in /proc/PID/status")


def raw_exchange(server: RunningServer, request: bytes, timeout: float = 10) -> bytes:
    """Send `request` on a fresh connection and read until the server closes
    it (send `Connection: close`) or `timeout`; b"" when it closed without
    an answer."""
    with socket.create_connection(("127.0.0.1", port_of(server)), timeout=timeout) as sock:
        try:
            sock.sendall(request)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused while sending: whatever it answered is read below
        answer = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            answer += chunk
        return answer


def status_of(answer: bytes) -> int | None:
    """The status code of a raw HTTP answer, None for no answer."""
    if not answer.startswith(b"HTTP/1.1 "):
        return None
    return int(answer[9:12])


class HeartbeatWatch:
    """Polls /__lbheartbeat__ on its own connections from a thread and keeps
    the slowest answer: what every other client of the server waited."""

    TIMEOUT = 30.0  # a heartbeat that takes longer counts as this

    def __init__(self, server: RunningServer) -> None:
        self.url = f"{server.base_url}/__lbheartbeat__"
        self.worst = 0.0
        self.count = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                ok = httpx.get(self.url, timeout=self.TIMEOUT).status_code == 200
            except httpx.HTTPError:
                ok = False
            took = time.monotonic() - started if ok else self.TIMEOUT
            self.worst = max(self.worst, took)
            self.count += 1
            self._stop.wait(0.05)


@contextmanager
def heartbeat_watch(server: RunningServer) -> Iterator[HeartbeatWatch]:
    """`with heartbeat_watch(server) as watch:` ... then `watch.worst` is the
    slowest heartbeat seen during the block (at least one is made)."""
    watch = HeartbeatWatch(server)
    watch._thread.start()
    try:
        yield watch
    finally:
        while watch.count == 0 and watch._thread.is_alive():
            time.sleep(0.01)
        watch._stop.set()
        watch._thread.join(HeartbeatWatch.TIMEOUT + 5)
