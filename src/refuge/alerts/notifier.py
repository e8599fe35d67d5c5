"""Sending a notification to a staff member's channel: a Protocol with three implementations.

- `AppriseNotifier` (REFUGE_NOTIFIER=apprise, the default outside demo mode): a channel's target
  is an Apprise URL (mailto://, tgram://, signal://, matrix://, json://), sent through Apprise;
  or, for e-mail, a plain address, sent through the SMTP server in REFUGE_SMTP_* over pooled
  connections (`alerts.smtp`; docs/decisions/0007-email-over-smtplib.md says why).
- `LogNotifier` (REFUGE_NOTIFIER=log, the default in demo mode) sends nowhere and logs one line
  without the target or the text.
- `RecordingNotifier` (REFUGE_NOTIFIER=record) keeps messages in memory, for tests.

`send` returns when the channel accepted the message and raises NotifierError when it did not.
Errors name the channel kind, never the target (it may hold a token) or the text.
"""

from __future__ import annotations

import logging
import threading
import urllib.parse
from dataclasses import dataclass
from typing import Protocol

import apprise
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from refuge.alerts import smtp

logger = logging.getLogger(__name__)

# Seconds; a send must end well inside the delivery lease (REFUGE_DELIVERY_LEASE_SECONDS).
CONNECT_TIMEOUT = 5
READ_TIMEOUT = 15


class NotifierError(Exception):
    """The channel did not accept the message."""


class Notifier(Protocol):
    def send(self, *, channel_kind: str, target: str, title: str, body: str) -> None: ...


class AppriseNotifier:
    def send(self, *, channel_kind: str, target: str, title: str, body: str) -> None:
        if is_plain_address(channel_kind, target):
            try:
                smtp.send(to=target.strip(), title=title, body=body)
            except smtp.SmtpError as exc:
                raise NotifierError(f"the {channel_kind} channel: {exc}") from None
            return
        url = apprise_url(channel_kind, target)
        sender = apprise.Apprise()
        if not sender.add(url):
            raise NotifierError(f"the {channel_kind} channel's address is not usable")
        if not sender.notify(title=title, body=body, body_format=apprise.NotifyFormat.TEXT):
            raise NotifierError(f"the {channel_kind} channel did not accept the message")


def is_plain_address(channel_kind: str, target: str) -> bool:
    """An e-mail channel given as an address, not as an Apprise URL: sent by `alerts.smtp`."""
    return channel_kind == "email" and "://" not in target


def apprise_url(channel_kind: str, target: str) -> str:
    """The Apprise URL of a channel, with timeouts added unless the URL sets its own."""
    target = target.strip()
    if is_plain_address(channel_kind, target):
        raise NotifierError("a plain e-mail address is sent over SMTP, not through Apprise")
    parts = urllib.parse.urlsplit(target)
    query = urllib.parse.parse_qs(parts.query)
    extra = {"cto": str(CONNECT_TIMEOUT), "rto": str(READ_TIMEOUT)}
    added = "&".join(f"{key}={value}" for key, value in extra.items() if key not in query)
    if not added:
        return target
    return parts._replace(query=f"{parts.query}&{added}" if parts.query else added).geturl()


class LogNotifier:
    """Sends nowhere: logs that a message would have gone out, without target or text."""

    def send(self, *, channel_kind: str, target: str, title: str, body: str) -> None:
        del target, body
        marker = title.split("]", 1)[0] + "]" if title.startswith("[") else ""
        logger.info("notification %s via %s (REFUGE_NOTIFIER=log: not sent)", marker, channel_kind)


@dataclass(frozen=True)
class SentMessage:
    channel_kind: str
    target: str
    title: str
    body: str


class RecordingNotifier:
    """Keeps every message in memory. `fail_kinds` (or `fail_targets`) make sends to those
    channels raise, to stand in for a channel that is down."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.sent: list[SentMessage] = []
        self.refused: list[SentMessage] = []
        self.fail_kinds: set[str] = set()
        self.fail_targets: set[str] = set()

    def send(self, *, channel_kind: str, target: str, title: str, body: str) -> None:
        message = SentMessage(channel_kind, target, title, body)
        if channel_kind in self.fail_kinds or target in self.fail_targets:
            with self._lock:
                self.refused.append(message)
            raise NotifierError(f"the {channel_kind} channel did not accept the message")
        with self._lock:
            self.sent.append(message)

    def reset(self) -> None:
        with self._lock:
            self.sent.clear()
            self.refused.clear()
        self.fail_kinds.clear()
        self.fail_targets.clear()


_recording = RecordingNotifier()


def recording_notifier() -> RecordingNotifier:
    """The process's RecordingNotifier (what get_notifier returns with REFUGE_NOTIFIER=record)."""
    return _recording


def get_notifier() -> Notifier:
    kind = settings.NOTIFIER
    if kind == "apprise":
        return AppriseNotifier()
    if kind == "log":
        return LogNotifier()
    if kind == "record":
        return _recording
    raise ImproperlyConfigured(f"REFUGE_NOTIFIER must be apprise, log or record, not {kind!r}")
