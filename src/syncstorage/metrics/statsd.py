"""A fire-and-forget statsd client: one `<prefix>.<name>:<value>|<type>` UDP
datagram per observation.

Hand-written rather than the `statsd` package: the line protocol is this one
format string, and owning the socket lets us resolve the host once at start,
never block the event loop and never raise on the request path (a lost
datagram is an acceptable loss; an exception in a request is not).
"""

from __future__ import annotations

import logging
import re
import socket

log = logging.getLogger(__name__)


class StatsdClient:
    def __init__(self, host: str, port: int, prefix: str) -> None:
        family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
        self._address = address
        self._socket = socket.socket(family, socket.SOCK_DGRAM)
        self._socket.setblocking(False)
        self._prefix = f"{prefix}." if prefix else ""

    def send(self, name: str, value: str, kind: str) -> None:
        try:
            self._socket.sendto(f"{self._prefix}{name}:{value}|{kind}".encode(), self._address)
        except OSError as exc:  # full buffer, nobody listening (ICMP), ...
            log.debug("statsd datagram dropped: %s", exc)

    def close(self) -> None:
        self._socket.close()


def statsd_route(template: str) -> str:
    """A route template as one dotted statsd name part:
    "/1.5/{uid}/storage/{collection}" -> "1_5.uid.storage.collection"."""
    parts = template.strip("/").replace("{", "").replace("}", "").split("/")
    return ".".join(re.sub(r"[^A-Za-z0-9_-]", "_", part) for part in parts) or "root"
