"""SMTP servers for the accounts' confirmation mails: a real one (aiosmtpd)
in the test process that keeps what it receives, and one that accepts
connections and never says a word (an SMTP server that hangs)."""

from __future__ import annotations

import datetime
import ipaddress
import re
import socket
import ssl
import threading
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from support.server import free_port

CODE = re.compile(r"confirmation code is (\d+)")


class MailCatcher:
    """An SMTP server on loopback; `smtp_settings` point the accounts server at it.

    `tls` "starttls" or "tls" serves `certificate` (see `make_certificate`)
    and then requires AUTH with `login` (user name, password)."""

    def __init__(self, tls: str = "none", certificate: Path | None = None, login: tuple[str, str] = ("", "")) -> None:
        self.port = free_port()
        self.tls = tls
        self.login = login
        self.mails: list[tuple[list[str], Message]] = []
        self._arrived = threading.Condition()
        options: dict[str, Any] = {}
        if tls != "none":
            assert certificate is not None
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(certificate, certificate)
            options = {"authenticator": self._authenticate, "auth_required": True}
            # aiosmtpd does not count a TLS-from-the-start session as TLS for AUTH
            options.update({"tls_context": context, "require_starttls": True} if tls == "starttls"
                           else {"ssl_context": context, "auth_require_tls": False})
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port, **options)

    def _authenticate(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
        given = (data.login.decode(), data.password.decode()) if isinstance(data, LoginPassword) else None
        return AuthResult(success=given == self.login)

    def __enter__(self) -> MailCatcher:
        self._controller.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._controller.stop()

    @property
    def smtp_settings(self) -> dict[str, str]:
        settings = {"smtp_host": "127.0.0.1", "smtp_port": str(self.port), "smtp_tls": self.tls,
                    "smtp_from": "sync@example.org"}
        if self.tls != "none":
            settings.update(smtp_username=self.login[0], smtp_password=self.login[1])
        return settings

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


def make_certificate(path: Path) -> Path:
    """A self-signed certificate for 127.0.0.1 and its key in one PEM file:
    the SMTP server's, and the CA a client trusts (SSL_CERT_FILE) or not."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    path.write_bytes(
        certificate.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return path
