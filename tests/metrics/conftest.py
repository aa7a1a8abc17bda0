"""Metrics are switched per process; every test leaves them off again."""

from __future__ import annotations

import socket

import pytest

from syncstorage import metrics
from syncstorage.settings import Settings


@pytest.fixture(autouse=True)
def metrics_off_afterwards():
    yield
    metrics.configure(Settings())


@pytest.fixture
def statsd_socket():
    """A UDP socket standing in for the statsd daemon: (port, receive())."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(2)

    def receive_all() -> list[str]:
        lines = []
        sock.settimeout(0.2)
        try:
            while True:
                lines.append(sock.recv(65535).decode())
        except TimeoutError:
            return lines

    yield sock.getsockname()[1], receive_all
    sock.close()

