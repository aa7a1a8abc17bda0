"""Mail for confirmation codes, sent with the standard library's smtplib.

A request waits for its mail at most `smtp_timeout` seconds: the SMTP
conversation runs in one of a few threads, each socket operation bounded by
the same timeout, so an SMTP server that hangs costs a request its bounded
wait and a thread at most a few timeouts, never a stuck worker. Any failure
is a `MailError` whose text names what went wrong, never the mail's content
(it holds a code).
"""

from __future__ import annotations

import smtplib
import ssl
import threading
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from syncstorage.settings import Settings

# Mails in flight at once; one more is refused at once rather than queued
# behind an SMTP server that hangs.
MAX_SENDING = 4


class MailError(Exception):
    pass


class Mailer:
    def __init__(self, settings: Settings) -> None:
        assert settings.smtp_host and settings.smtp_from
        self.host = settings.smtp_host
        self.port = settings.smtp_port
        self.tls = settings.smtp_tls
        self.username = settings.smtp_username
        self.password = settings.smtp_password or ""
        self.sender = settings.smtp_from
        self.timeout = settings.smtp_timeout
        self._slots = threading.BoundedSemaphore(MAX_SENDING)
        self._pool = ThreadPoolExecutor(MAX_SENDING, thread_name_prefix="accounts-mail")

    def send(self, to: str, subject: str, text: str) -> None:
        """Send one plain-text mail, or raise MailError within `timeout` seconds."""
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain=self.sender.rpartition("@")[2])
        message.set_content(text)
        if not self._slots.acquire(blocking=False):
            raise MailError(f"{MAX_SENDING} mails already waiting for {self.host}:{self.port}")
        try:
            future = self._pool.submit(self._deliver, message)
        except RuntimeError:  # the pool is shut down (server stopping)
            self._slots.release()
            raise MailError("the server is stopping") from None
        future.add_done_callback(lambda _done: self._slots.release())
        try:
            future.result(timeout=self.timeout)
        except FutureTimeout:
            raise MailError(f"{self.host}:{self.port} did not answer within {self.timeout:g} s") from None
        except (OSError, smtplib.SMTPException) as exc:  # refused, TLS, AUTH, rejected address, ...
            raise MailError(f"{self.host}:{self.port}: {_describe(exc)}") from None

    def _deliver(self, message: EmailMessage) -> None:
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if self.tls == "tls":
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with smtp:
            if self.tls == "starttls":
                smtp.starttls(context=context)
            if self.username:
                smtp.login(self.username, self.password)
            smtp.send_message(message)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        reply = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return f"{type(exc).__name__} {exc.smtp_code} {reply[:200]}"
    return f"{type(exc).__name__}: {exc}"[:300]
