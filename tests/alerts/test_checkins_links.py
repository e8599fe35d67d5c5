"""Personal links, sender bindings and `refuge checkin` on the command line."""

from __future__ import annotations

import hashlib
import io

import pytest
from django.core.management import CommandError, call_command

from refuge.alerts import pins
from refuge.alerts.models import ChannelBinding, CheckinLink, CheckinSchedule
from refuge.alerts.services import checkin_links, checkins
from refuge.core.errors import DomainError, NotFoundError
from refuge.security.models import AuditEntry
from tests.alerts.conftest import DURESS_PIN, NORMAL_PIN
from tests.conftest import FALCON_PHONE, Cast

pytestmark = pytest.mark.django_db


def refuge(*args: str, stdin: str | None = None, monkeypatch=None) -> str:  # type: ignore[no-untyped-def]
    out, err = io.StringIO(), io.StringIO()
    if stdin is not None and monkeypatch is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    call_command("checkin", *args, stdout=out, stderr=err)
    return out.getvalue()


# --- links ----------------------------------------------------------------------------------------


def test_a_link_is_a_random_token_stored_as_a_digest(cast: Cast):
    token = checkin_links.link_issue(actor=cast.caseworker, person=cast.falcon)
    assert len(token) >= 43
    link = CheckinLink.objects.get()
    assert link.token_digest == hashlib.sha256(token.encode()).hexdigest()
    assert token not in link.token_digest
    assert checkin_links.link_person(token) == cast.falcon
    assert AuditEntry.objects.filter(action="refuge.alerts.link.issued").count() == 1


def test_reissuing_revokes_the_previous_link(cast: Cast):
    first = checkin_links.link_issue(actor=None, person=cast.falcon)
    second = checkin_links.link_issue(actor=None, person=cast.falcon)
    assert first != second
    assert checkin_links.link_person(first) is None
    assert checkin_links.link_person(second) == cast.falcon


def test_revoking_ends_every_link(cast: Cast):
    token = checkin_links.link_issue(actor=None, person=cast.falcon)
    assert checkin_links.link_revoke(actor=None, person=cast.falcon) == 1
    assert checkin_links.link_person(token) is None


def test_outsiders_cannot_issue_links(cast: Cast):
    with pytest.raises(NotFoundError):
        checkin_links.link_issue(actor=cast.outsider, person=cast.falcon)
    assert not CheckinLink.objects.exists()


@pytest.mark.parametrize("token", ["", "x", "a" * 10_000])
def test_malformed_tokens_open_nothing(cast: Cast, token: str):
    checkin_links.link_issue(actor=None, person=cast.falcon)
    assert checkin_links.link_person(token) is None


# --- bindings -------------------------------------------------------------------------------------


def test_senders_are_normalised_before_hashing():
    assert pins.normalise_sender("sms", "+7 (900) 555-01-23") == "+79005550123"
    assert pins.normalise_sender("sms", "8 900 555 01 23") == "+79005550123"
    assert pins.normalise_sender("sms", "0049 30 1234567") == "+49301234567"
    assert pins.normalise_sender("telegram", " 00123 ") == "123"
    assert pins.sender_hash("sms", "+79005550123") == pins.sender_hash("sms", "89005550123")
    assert pins.sender_hash("sms", "+79005550123") != pins.sender_hash("telegram", "79005550123")
    for kind, bad in [("sms", "12345"), ("sms", "call me"), ("telegram", "@falcon"), ("fax", "1")]:
        with pytest.raises(pins.SenderError):
            pins.normalise_sender(kind, bad)


def test_inbound_message_ids_are_kept_as_keyed_hashes_per_source():
    digest = pins.inbound_message_hash("telegram", "555001:42")
    assert digest.startswith("v1$")
    assert "555001" not in digest
    assert digest == pins.inbound_message_hash("telegram", "555001:42")
    assert digest != pins.inbound_message_hash("sms", "555001:42")
    assert digest != pins.inbound_message_hash("telegram", "555001:43")


def test_a_message_id_is_accepted_once():
    assert checkin_links.inbound_accept(source="telegram", message_id="555001:42")
    assert not checkin_links.inbound_accept(source="telegram", message_id="555001:42")
    assert checkin_links.inbound_accept(source="sms", message_id="555001:42")


def test_binding_a_number_twice_to_the_same_person_is_a_no_op(cast: Cast):
    first = checkin_links.binding_add(
        actor=None, person=cast.falcon, kind="sms", sender=FALCON_PHONE
    )
    again = checkin_links.binding_add(
        actor=None, person=cast.falcon, kind="sms", sender="89005550123"
    )
    assert first.pk == again.pk
    assert checkin_links.binding_person("sms", "+79005550123") == (cast.falcon, first.sender_hash)


def test_a_number_bound_to_someone_else_is_refused(cast: Cast):
    checkin_links.binding_add(actor=None, person=cast.falcon, kind="sms", sender=FALCON_PHONE)
    with pytest.raises(DomainError):
        checkin_links.binding_add(actor=None, person=cast.birch, kind="sms", sender=FALCON_PHONE)


def test_a_malformed_number_is_refused_with_a_field_error(cast: Cast):
    with pytest.raises(DomainError) as caught:
        checkin_links.binding_add(actor=None, person=cast.falcon, kind="sms", sender="call me")
    assert "sender" in caught.value.field_errors


def test_unbinding(cast: Cast):
    checkin_links.binding_add(actor=None, person=cast.falcon, kind="telegram", sender="555001")
    assert (
        checkin_links.binding_revoke(
            actor=None, person=cast.falcon, kind="telegram", sender="555001"
        )
        == 1
    )
    assert checkin_links.binding_person("telegram", "555001")[0] is None
    assert (
        checkin_links.binding_revoke(actor=None, person=cast.falcon, kind="telegram", sender="x")
        == 0
    )
    # Bound again after the revocation: the unique constraint covers live bindings only.
    checkin_links.binding_add(actor=None, person=cast.birch, kind="telegram", sender="555001")
    assert ChannelBinding.objects.count() == 2


# --- the command line -----------------------------------------------------------------------------


def test_link_prints_the_full_url(cast: Cast, settings):
    settings.PUBLIC_BASE_URL = "https://example.org"
    url = refuge("link", "falcon").strip()
    assert url.startswith("https://example.org/c/")
    token = url.removeprefix("https://example.org/c/").rstrip("/")
    assert checkin_links.link_person(token) == cast.falcon
    assert "revoked" in refuge("link", "FALCON", "--revoke")
    assert checkin_links.link_person(token) is None


def test_schedule_set_show_pause_resume(cast: Cast, at_call_time):
    shown = refuge(
        "schedule", "set", "FALCON", "--daily", "21:00", "--tz", "Europe/Moscow", "--grace", "30"
    )
    assert "daily by 21:00 Europe/Moscow, grace 30 min" in shown
    assert "Tue 2026-03-10 21:00 Europe/Moscow (18:00 UTC)" in shown
    assert "PINs:          not set" in shown
    assert "paused:        until" in refuge(
        "schedule", "pause", "FALCON", "--until", "2026-03-12T09:00+03:00"
    )
    assert "paused:        no" in refuge("schedule", "resume", "FALCON")
    assert "every 6 h" in refuge("schedule", "set", "FALCON", "--every", "6")
    assert "every 6 h" in refuge("schedule", "show", "FALCON")


def test_schedule_set_takes_a_window_and_shows_when_check_ins_count(cast: Cast, at_call_time):
    shown = refuge("schedule", "set", "FALCON", "--daily", "21:00", "--tz", "Europe/Moscow")
    assert "grace 120 min, window 240 min" in shown
    assert "counts from:   Tue 2026-03-10 17:00 Europe/Moscow (14:00 UTC)" in shown
    shown = refuge("schedule", "set", "FALCON", "--daily", "21:00", "--window", "60")
    assert "counts from:   Tue 2026-03-10 20:00" in shown
    with pytest.raises(CommandError, match="longer than the interval"):
        refuge("schedule", "set", "FALCON", "--every", "2", "--window", "180")


def test_unlock_lifts_a_lockout_with_a_reason(cast: Cast, at_call_time, falcon_schedule):
    for _attempt in range(5):
        checkins.checkin_submit(schedule=falcon_schedule, pin="0000", channel="web")
    assert "locked until:  Tue 2026-03-10 15:30" in refuge("schedule", "show", "FALCON")
    with pytest.raises(CommandError, match="Say why"):
        refuge("unlock", "FALCON", "--reason", " ")
    shown = refuge("unlock", "FALCON", "--reason", "Called him; he mistyped.")
    assert "locked until" not in shown
    assert checkins.lock_state(CheckinSchedule.objects.get()) is None
    with pytest.raises(CommandError, match="not locked"):
        refuge("unlock", "FALCON", "--reason", "Again.")


@pytest.mark.parametrize(
    "args",
    [
        ("schedule", "set", "FALCON", "--every", "0"),
        ("schedule", "set", "FALCON", "--daily", "25:00"),
        ("schedule", "set", "FALCON", "--every", "6", "--tz", "Nowhere/City"),
        ("schedule", "pause", "FALCON", "--until", "tomorrow"),
        ("schedule", "show", "NOBODY"),
        ("pins", "FALCON", "--stdin"),
        ("bind", "FALCON", "--sms", "call me"),
    ],
)
def test_bad_commands_fail_with_a_message(cast: Cast, args, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    with pytest.raises(CommandError):
        refuge(*args)


def test_pins_are_read_from_prompts_never_from_argv(cast: Cast, falcon_schedule, monkeypatch):
    answers = iter(["4321", "4321", "8765", "8765"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    assert "PINs of FALCON set." in refuge("pins", "FALCON")
    schedule = CheckinSchedule.objects.get()
    assert checkins.checkin_submit(schedule=schedule, pin="4321", channel="web").accepted
    assert checkins.checkin_submit(schedule=schedule, pin="8765", channel="web").accepted
    assert not checkins.checkin_submit(schedule=schedule, pin=NORMAL_PIN, channel="web").accepted


def test_pins_from_standard_input_and_a_mismatch_changes_nothing(
    cast: Cast, falcon_schedule, monkeypatch
):
    before = CheckinSchedule.objects.get().pin_hash
    with pytest.raises(CommandError):
        refuge("pins", "FALCON", "--stdin", stdin="1111\n2222\n", monkeypatch=monkeypatch)
    assert CheckinSchedule.objects.get().pin_hash == before
    refuge("pins", "FALCON", "--stdin", stdin="1111\n1111\n\n\n", monkeypatch=monkeypatch)
    schedule = CheckinSchedule.objects.get()
    assert schedule.duress_pin_hash == ""
    assert not checkins.checkin_submit(schedule=schedule, pin=DURESS_PIN, channel="web").accepted


def test_bind_and_unbind(cast: Cast):
    assert "sms sender bound to FALCON" in refuge("bind", "FALCON", "--sms", FALCON_PHONE)
    assert "telegram sender bound" in refuge("bind", "FALCON", "--telegram", "555001")
    assert "1 sms binding(s)" in refuge("bind", "FALCON", "--sms", FALCON_PHONE, "--revoke")
    assert ChannelBinding.objects.filter(revoked_at__isnull=True).count() == 1


def test_a_person_without_a_schedule_has_no_pins_to_set(cast: Cast):
    with pytest.raises(CommandError, match="no check-in schedule"):
        refuge("pins", "FALCON")
