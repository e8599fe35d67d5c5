"""E-mail to staff over pooled SMTP connections (refuge.alerts.smtp), against a local server."""

from __future__ import annotations

import email
import email.policy

import pytest

from refuge.alerts import smtp
from refuge.alerts.notifier import AppriseNotifier, NotifierError
from tests.alerts.conftest import SmtpSink


@pytest.fixture(autouse=True)
def _fresh_pool():  # type: ignore[no-untyped-def]
    smtp.close_connections()
    yield
    smtp.close_connections()


def _send(title: str = "t", to: str = "lawyer@example.org") -> None:
    AppriseNotifier().send(channel_kind="email", target=to, title=title, body="Body text")


def test_a_plain_address_is_sent_to_the_configured_server(smtp_sink: SmtpSink):
    _send("[E-AAAA #1] High priority")
    ((sender, recipients, raw),) = smtp_sink.messages
    message = email.message_from_string(raw, policy=email.policy.default)
    assert sender == "refuge@example.org"
    assert recipients == ["lawyer@example.org"]
    assert message["Subject"] == "[E-AAAA #1] High priority"
    assert message["Message-ID"]
    assert message.get_content().strip() == "Body text"


def test_messages_share_one_open_connection(smtp_sink: SmtpSink):
    for number in range(5):
        _send(f"message {number}")
    assert len(smtp_sink.messages) == 5
    assert len(set(smtp_sink.peers)) == 1


def test_a_connection_the_server_dropped_costs_no_message(smtp_sink: SmtpSink):
    _send("before")
    smtp_sink.restart()  # the pooled connection is dead now
    _send("after")
    assert [m[2].count("Subject: after") for m in smtp_sink.messages] == [0, 1]
    assert len(set(smtp_sink.peers)) == 2


def test_a_refused_message_raises_without_the_address_or_the_text(smtp_sink: SmtpSink):
    smtp_sink.refuse = True
    with pytest.raises(NotifierError) as refused:
        _send("secret title", to="lawyer@example.org")
    assert "554" in str(refused.value)
    assert "lawyer" not in str(refused.value)
    assert "secret" not in str(refused.value)
    smtp_sink.refuse = False
    _send("again")  # the connection is still good for the next message
    assert len(smtp_sink.messages) == 1


def test_tls_asked_for_but_not_offered_fails_closed(smtp_sink: SmtpSink, settings):
    settings.SMTP_TLS = True  # the local server offers no STARTTLS: never send in the clear
    with pytest.raises(NotifierError) as refused:
        _send()
    assert "SMTPNotSupportedError" in str(refused.value)
    assert smtp_sink.messages == []


def test_a_server_that_is_down_is_a_clear_error(settings):
    settings.SMTP_HOST = "127.0.0.1"
    settings.SMTP_PORT = 9  # discard: nothing listens
    settings.SMTP_TLS = False
    with pytest.raises(NotifierError) as down:
        _send()
    assert "ConnectionRefusedError" in str(down.value)
