"""The text commands of SMS and Telegram (intake.inbound): any text parses to one command, and
a message from a sender nobody bound gets a reply and opens nothing but what an SOS opens."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from refuge.alerts.models import Checkin, Emergency, EmergencyEvent
from refuge.intake import inbound
from tests.fuzz.conftest import FUZZ, hostile_text

MESSAGE_IDS = itertools.count()
KINDS = {inbound.SOS, inbound.ACK, inbound.CHECKIN, inbound.CANCEL, inbound.START, inbound.UNKNOWN}


@FUZZ
@given(text=hostile_text)
def test_any_text_parses_to_one_known_command(text):
    command = inbound.parse(text)
    assert command.kind in KINDS
    assert (command.pin != "") == command.carries_pin


@FUZZ
@given(pin=st.from_regex(r"[0-9]{1,12}", fullmatch=True), spaces=st.sampled_from([" ", "  ", "\t"]))
def test_a_check_in_with_digits_keeps_the_pin_exactly(pin, spaces):
    assert inbound.parse(f"CHECKIN{spaces}{pin}") == inbound.Command(inbound.CHECKIN, pin)


@pytest.mark.django_db
@FUZZ
@given(
    text=hostile_text,
    source=st.sampled_from(["sms", "telegram"]),
)
def test_an_unbound_sender_gets_a_reply_and_only_sos_opens_an_emergency(cast, text, source):
    emergencies_before = Emergency.objects.count()
    acknowledged_before = EmergencyEvent.objects.filter(kind="acknowledged").count()
    sender = "+79990001122" if source == "sms" else "555000111"
    reply = inbound.handle(
        source=source,
        sender_kind=source,
        sender=sender,
        text=text,
        message_id=f"fuzz-{next(MESSAGE_IDS)}",  # never a replay, even while shrinking
    )
    assert isinstance(reply, str)
    assert reply
    assert not Checkin.objects.exists()
    assert EmergencyEvent.objects.filter(kind="acknowledged").count() == acknowledged_before
    if inbound.parse(text).kind != inbound.SOS:
        assert Emergency.objects.count() == emergencies_before
