"""E-mail to staff through the configured SMTP server (REFUGE_SMTP_*), over kept-open connections.

Why not through Apprise like the other channels (docs/decisions/0007-email-over-smtplib.md):
Apprise opens a new SMTP connection for every message and builds a new TLS context for each,
loading the system's CA certificates again (about 30 ms), so a surge of alerts is sent slower
than it arrives. Here the TLS context is made once per process and connections are pooled:
a send takes a connection that is already open (or opens one), and puts it back for the next.

A connection that the server dropped (idle timeout, restart) fails on use; the send opens a new
one and tries once more, so one stale connection never costs a message. Errors name what went
wrong, never the address or the text.
"""

from __future__ import annotations

import contextlib
import email.message
import email.utils
import smtplib
import ssl
import threading
import time
from collections.abc import Iterator

from django.conf import settings

# Seconds. A send must end well inside the delivery lease (REFUGE_DELIVERY_LEASE_SECONDS).
TIMEOUT = 15
# Servers drop idle clients after a minute or more; a connection idle this long is not reused.
IDLE_LIMIT = 30.0
POOL_SIZE = 8


class SmtpError(Exception):
    """The server did not take the message."""


_context_lock = threading.Lock()
_context: ssl.SSLContext | None = None


def _tls_context() -> ssl.SSLContext:
    global _context  # noqa: PLW0603 - one verified TLS context per process, made on first use
    with _context_lock:
        if _context is None:
            _context = ssl.create_default_context()
        return _context


class _Pool:
    """Open SMTP connections to the one configured server, each used by one sender at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: list[tuple[smtplib.SMTP, float, tuple[object, ...]]] = []

    @staticmethod
    def _config() -> tuple[object, ...]:
        return (
            settings.SMTP_HOST,
            settings.SMTP_PORT,
            settings.SMTP_TLS,
            settings.SMTP_USER,
            settings.SMTP_PASSWORD,
        )

    def _open(self) -> smtplib.SMTP:
        host, port = str(settings.SMTP_HOST), int(settings.SMTP_PORT)
        if not host:
            raise SmtpError("e-mail needs REFUGE_SMTP_HOST")
        implicit_tls = settings.SMTP_TLS and port == 465  # noqa: PLR2004 - SMTPS
        connection: smtplib.SMTP
        if implicit_tls:
            connection = smtplib.SMTP_SSL(host, port, timeout=TIMEOUT, context=_tls_context())
        else:
            connection = smtplib.SMTP(host, port, timeout=TIMEOUT)
            if settings.SMTP_TLS:
                connection.starttls(context=_tls_context())
        if settings.SMTP_USER:
            connection.login(str(settings.SMTP_USER), str(settings.SMTP_PASSWORD or ""))
        return connection

    @contextlib.contextmanager
    def connection(self, *, fresh: bool = False) -> Iterator[smtplib.SMTP]:
        config = self._config()
        conn = None if fresh else self._take(config)
        conn = conn or self._open()
        try:
            yield conn
        except BaseException:
            _quietly_close(conn)
            raise
        self._give_back(conn, config)

    def _take(self, config: tuple[object, ...]) -> smtplib.SMTP | None:
        now = time.monotonic()
        with self._lock:
            while self._idle:
                conn, since, made_for = self._idle.pop()
                if made_for == config and now - since < IDLE_LIMIT:
                    return conn
                _quietly_close(conn)
        return None

    def _give_back(self, conn: smtplib.SMTP, config: tuple[object, ...]) -> None:
        with self._lock:
            if len(self._idle) < POOL_SIZE:
                self._idle.append((conn, time.monotonic(), config))
                return
        _quietly_close(conn)

    def close_all(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn, _since, _config in idle:
            _quietly_close(conn)


def _quietly_close(conn: smtplib.SMTP) -> None:
    with contextlib.suppress(Exception):
        conn.quit()
    with contextlib.suppress(Exception):
        conn.close()


_pool = _Pool()


def compose(*, to: str, title: str, body: str) -> email.message.EmailMessage:
    message = email.message.EmailMessage()
    message["From"] = str(settings.SMTP_FROM)
    message["To"] = to
    message["Subject"] = title
    message["Date"] = email.utils.formatdate(localtime=False)
    domain = str(settings.SMTP_FROM).rsplit("@", 1)[-1] or "localhost"
    message["Message-ID"] = email.utils.make_msgid(domain=domain)
    message.set_content(body)
    return message


def send(*, to: str, title: str, body: str) -> None:
    """Hand one message to the SMTP server; raises SmtpError when it was not accepted."""
    message = compose(to=to, title=title, body=body)
    for attempt in (1, 2):
        try:
            with _pool.connection(fresh=attempt == 2) as conn:  # noqa: PLR2004
                refused = conn.send_message(message)
        except smtplib.SMTPServerDisconnected:
            if attempt == 1:
                continue  # a pooled connection the server had closed: once more on a new one
            raise SmtpError("the SMTP server closed the connection") from None
        except smtplib.SMTPResponseException as exc:
            raise SmtpError(f"the SMTP server answered {exc.smtp_code}") from None
        except smtplib.SMTPRecipientsRefused:
            raise SmtpError("the SMTP server refused the recipient") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise SmtpError(f"SMTP failed ({type(exc).__name__})") from None
        if refused:
            raise SmtpError("the SMTP server refused the recipient")
        return


def close_connections() -> None:
    """Close the pooled connections (at the worker's stop, and in tests)."""
    _pool.close_all()
