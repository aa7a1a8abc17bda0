"""The watchdog that ends a wait on a database socket at its deadline
(db/watchdog.py), on a plain socket pair: the other end plays a
server that stops answering but keeps the connection open."""

from __future__ import annotations

import socket
import time

from syncstorage.db import watchdog


def test_a_wait_past_its_deadline_sees_the_connection_end():
    ours, server = socket.socketpair()
    try:
        ours.settimeout(10)  # the test's own bound; the watchdog must come first
        started = time.monotonic()
        with watchdog.watch(ours.fileno(), 0.3) as watch:
            assert ours.recv(1) == b""  # shut down: end of stream, not an answer
        took = time.monotonic() - started
        assert watch.fired
        assert 0.25 < took < 3, took
    finally:
        ours.close()
        server.close()


def test_a_wait_that_ended_in_time_is_never_touched():
    ours, server = socket.socketpair()
    try:
        server.sendall(b"x")
        with watchdog.watch(ours.fileno(), 0.2) as watch:
            assert ours.recv(1) == b"x"
        time.sleep(0.5)  # well past the deadline
        assert not watch.fired
        server.sendall(b"y")  # the connection still works both ways
        ours.sendall(b"z")
        assert ours.recv(1) == b"y" and server.recv(1) == b"z"
    finally:
        ours.close()
        server.close()
