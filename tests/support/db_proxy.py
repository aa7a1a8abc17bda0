"""A TCP proxy on loopback between a server process and its database, that
can refuse, freeze and resume (issue 10, finding 4).

Written for the tests because what matters is a database that stops
answering while its connections stay open (a stopped server process, a
blackholed network): a frozen proxy stops forwarding in both directions
but keeps every socket open and still accepts new connections, as the
kernel does for a stopped server; what was sent meanwhile is delivered on
`resume()`. `refuse()` closes the listening port and cuts the open
connections, as a database that is down does.
"""

from __future__ import annotations

import select
import socket
import threading

_POLL = 0.1  # seconds between checks for close() in every blocking loop


class DatabaseProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self._flowing = threading.Event()
        self._flowing.set()
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._start(self._accept, self._listener)

    # --- what the tests do ---
    def freeze(self) -> None:
        """Stop forwarding; keep every connection open and accept new ones."""
        self._flowing.clear()

    def resume(self) -> None:
        """Forward again (what was held back first), and listen again after refuse()."""
        with self._lock:
            if self._listener is None:
                self._listener = socket.create_server(("127.0.0.1", self.port))
                self._start(self._accept, self._listener)
        self._flowing.set()

    def refuse(self) -> None:
        """Refuse new connections and cut the open ones."""
        with self._lock:
            listener, self._listener = self._listener, None
            self._cut_all()
        if listener is not None:
            listener.close()

    def close(self) -> None:
        self._closed.set()
        self._flowing.set()  # wake the copiers so they see _closed
        self.refuse()

    # --- plumbing ---
    def _start(self, target, *args) -> None:
        threading.Thread(target=target, args=args, daemon=True).start()

    def _cut_all(self) -> None:
        for sock in self._sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        self._sockets.clear()

    def _accept(self, listener: socket.socket) -> None:
        while not self._closed.is_set():
            try:
                readable, _, _ = select.select([listener], [], [], _POLL)
                if not readable:
                    continue
                client, _ = listener.accept()
            except (OSError, ValueError):
                return  # the listener was closed (refuse, close)
            with self._lock:
                self._sockets.append(client)
            self._start(self._connect, client)

    def _connect(self, client: socket.socket) -> None:
        # A stopped server takes the connections its kernel accepted only
        # once it runs again: connecting at once would let the live server
        # behind us time the handshake out (MariaDB's connect_timeout, 10 s).
        self._flowing.wait()
        if self._closed.is_set():
            return
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            client.close()
            return
        upstream.settimeout(None)
        with self._lock:
            self._sockets.append(upstream)
        self._start(self._copy, upstream, client)
        self._copy(client, upstream)

    def _copy(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while not self._closed.is_set():
                self._flowing.wait()
                readable, _, _ = select.select([source], [], [], _POLL)
                if not readable:
                    continue
                data = source.recv(65536)
                if not data:
                    sink.shutdown(socket.SHUT_WR)
                    return
                self._flowing.wait()  # read just as the freeze began: held back
                sink.sendall(data)
        except (OSError, ValueError):
            return  # cut by refuse() or close(), or the other end went away
