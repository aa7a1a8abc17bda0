"""SMTP servers for the accounts' confirmation mails: a real one (aiosmtpd)
in the test process that keeps what it receives, and one that accepts
connections and never says a word (an SMTP server that hangs)."""

from __future__ import annotations

import re
import socket
import threading
from email import message_from_bytes
from email.message import Message

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from support.server import free_port

CODE = re.compile(r"confirmation code is (\d+)")


class MailCatcher:
    """An SMTP server on loopback; `smtp_settings` point the accounts server at it."""

    def __init__(self) -> None:
        self.port = free_port()
        self.mails: list[tuple[list[str], Message]] = []
        self._arrived = threading.Condition()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> MailCatcher:
        self._controller.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._controller.stop()

    @property
    def smtp_settings(self) -> dict[str, str]:
        return {"smtp_host": "127.0.0.1", "smtp_port": str(self.port), "smtp_tls": "none",
                "smtp_from": "sync@example.org"}

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # aiosmtpd's hook
        assert isinstance(envelope.content, bytes)
        with self._arrived:
            self.mails.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content)))
            self._arrived.notify_all()
        return "250 OK"

    def count(self, to: str) -> int:
        with self._arrived:
            return self._count(to)

    def wait_code(self, to: str, *, after: int = 0, timeout: float = 10) -> str:
        """The code of the first mail to `to` past the first `after` ones."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: self._count(to) > after, timeout=timeout):
                raise AssertionError(f"no mail #{after + 1} to {to} within {timeout} s")
            mail = [mail for rcpt, mail in self.mails if to in rcpt][after]
        body = mail.get_payload(decode=True)
        assert isinstance(body, bytes)
        found = CODE.search(body.decode())
        assert found, body
        return found.group(1)

    def _count(self, to: str) -> int:
        return sum(1 for rcpt, _mail in self.mails if to in rcpt)


class SilentServer:
    """Accepts TCP connections and never answers: an SMTP server that hangs."""

    def __init__(self) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(16)  # the kernel completes the handshakes; nobody reads
        self.port = self.socket.getsockname()[1]

    def __enter__(self) -> SilentServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.socket.close()
