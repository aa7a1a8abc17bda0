"""A deadline for a blocking wait on a database socket (issue 10, finding 4).

A database server that stops answering keeps its connections open. When
its process is stopped, its kernel still acknowledges what we send, so TCP
keepalives and `tcp_user_timeout` never fire; behind a blackholed network
they would, but only after minutes. A driver without a read timeout of its
own (psycopg: libpq has none) waits all that time. `watch(fd, seconds)`
around such a wait has one process-wide thread shut the socket down once
the deadline passes: the driver then sees the connection end, raises, and
SQLAlchemy drops the connection. Written here because no driver or pool
offers it; `postgresql.py` uses it (MySQL's drivers have socket timeouts).

The wait's own thread removes its entry before it returns, under the lock
the watchdog fires under, so the watchdog never touches a descriptor after
its owner stopped waiting on it (the number may then belong to another
socket).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


# With nothing to watch the thread still wakes this often, so that arming a
# wait (deadline now + timeout, later than that) never has to wake it: a
# wake-up per wait cost 40 µs of CPU and 150 µs of latency per transaction.
IDLE_WAKE = 1.0


class Watch:
    """One armed wait; `fired` tells its owner why the driver raised."""

    __slots__ = ("deadline", "fd", "fired")

    def __init__(self, deadline: float, fd: int):
        self.deadline = deadline
        self.fd = fd
        self.fired = False


class _Watchdog:
    """One daemon thread for the process, started on first use. Arming and
    disarming are a dict insert and delete under a lock; the thread sleeps
    until the earliest deadline among the waits in progress (at most one
    per pooled connection), or IDLE_WAKE."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._waits: dict[int, Watch] = {}  # id -> wait in progress
        self._wake_at = 0.0  # when the thread wakes up next
        self._thread: threading.Thread | None = None

    @contextmanager
    def watch(self, fd: int, seconds: float) -> Iterator[Watch]:
        entry = Watch(time.monotonic() + seconds, fd)
        with self._lock:
            self._waits[id(entry)] = entry
            if entry.deadline < self._wake_at:
                self._changed.notify()
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="database-watchdog", daemon=True
                )
                self._thread.start()
        try:
            yield entry
        finally:
            with self._lock:
                del self._waits[id(entry)]

    def _run(self) -> None:
        with self._lock:
            while True:
                now = time.monotonic()
                for entry in self._waits.values():
                    if entry.deadline <= now and not entry.fired:
                        entry.fired = True
                        _shut_down(entry.fd)
                pending = [e.deadline for e in self._waits.values() if not e.fired]
                self._wake_at = min(pending, default=now + IDLE_WAKE)
                self._changed.wait(self._wake_at - now)


def _shut_down(fd: int) -> None:
    """End the connection on `fd` in both directions without closing `fd`
    itself, which still belongs to the driver (it closes it when it sees
    the connection end)."""
    try:
        duplicate = socket.socket(fileno=os.dup(fd))
    except OSError:
        return  # already closed: the wait has ended anyway
    try:
        duplicate.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # not connected any more
    finally:
        duplicate.close()


watch = _Watchdog().watch
