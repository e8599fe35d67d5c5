"""Alerts keep working while sealed: SOS, check-ins (normal and duress), missed check-ins,
escalation and delivery, logging a call; what was written while sealed is readable after the
unseal, and nothing encrypted is readable before it."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from refuge.alerts.models import (
    CallRecord,
    Checkin,
    CheckinSchedule,
    Emergency,
    EmergencySource,
    Notification,
    StaffChannel,
)
from refuge.alerts.services import checkin_links, checkins, delivery, escalation
from refuge.core import clock
from refuge.security import services as key_services
from refuge.security.crypto import ALG_INTAKE_BOX
from refuge.security.models import DataKey
from refuge.security.sealing import SealedError
from tests.alerts.conftest import DURESS_PIN, NORMAL_PIN
from tests.conftest import FALCON_NAME, Cast
from tests.security import sealed_instance as sealed_support
from tests.security.sealed_instance import SealedInstance

pytestmark = pytest.mark.django_db
sealed_instance = sealed_support.sealed_instance  # the fixture


@pytest.fixture
def falcon_link(cast: Cast, falcon_schedule) -> str:  # type: ignore[no-untyped-def]
    return checkin_links.link_path(checkin_links.link_issue(actor=None, person=cast.falcon))


@pytest.fixture
def sealed(falcon_link, sealed_instance) -> SealedInstance:  # type: ignore[no-untyped-def]
    assert sealed_instance.client.status().sealed
    return sealed_instance


def test_nothing_encrypted_is_readable_while_sealed(cast: Cast, sealed):
    from refuge.people.models import ProtectedPerson

    with pytest.raises(SealedError):
        _ = ProtectedPerson.objects.get(pk=cast.falcon.pk).legal_name


def test_sos_from_the_persons_page_opens_an_emergency(
    client: Client, cast: Cast, sealed, falcon_link
):
    response = client.post(falcon_link, {"action": "sos"})
    assert response.status_code == 200
    assert 'value="cancel"' in response.content.decode()
    emergency = Emergency.objects.get()
    assert emergency.source == EmergencySource.SOS


def test_normal_and_duress_check_ins_work_and_look_the_same(
    client: Client, sealed, falcon_link, at_call_time
):
    normal = client.post(falcon_link, {"action": "checkin", "pin": NORMAL_PIN})
    duress = client.post(falcon_link, {"action": "checkin", "pin": DURESS_PIN})
    assert normal.status_code == duress.status_code == 200
    assert normal.content == duress.content
    assert [c.under_duress for c in Checkin.objects.order_by("under_duress")] == [False, True]
    call_command("worker", "--once")  # the duress alert is raised by the worker's tick
    assert Emergency.objects.get().source == EmergencySource.DURESS


def test_a_missed_check_in_raises_an_alert(sealed, time_machine):
    time_machine.move_to(CheckinSchedule.objects.get().alert_at, tick=False)
    assert checkins.checkins_detect_missed(clock.now()) == 1
    assert Emergency.objects.get().source == EmergencySource.MISSED_CHECKIN


@pytest.mark.usefixtures("at_call_time")
def test_escalation_and_delivery_run(cast: Cast, sealed, recorder, client, falcon_link):
    for name, user in cast.by_role().items():
        StaffChannel.objects.create(user=user, kind="webhook", target=f"json://x/{name}")
    client.post(falcon_link, {"action": "sos"})
    assert escalation.escalation_tick() + delivery.deliver_due() >= 1
    assert "json://x/coordinator" in {m.target for m in recorder.sent}
    assert set(Notification.objects.values_list("state", flat=True)) == {"sent"}


def _log_call(client: Client, cast: Cast, heard: str) -> Emergency:
    response = client.post(
        reverse("alerts:emergency_call"),
        {"caller": str(cast.birch.pk), "heard": heard, "location_hint": "the flat"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    return Emergency.objects.get()


def test_logging_a_call_writes_what_it_cannot_read(login, cast: Cast, sealed, at_call_time):
    emergency = _log_call(login(cast.operator), cast, "screaming, two men")
    keys = DataKey.objects.filter(pk__in=[emergency.data_key_id, emergency.location_key_id])
    assert {bytes(k.wrapped)[1] for k in keys} == {ALG_INTAKE_BOX}
    with pytest.raises(SealedError):
        _ = Emergency.objects.get().heard


def test_the_emergency_page_says_sealed_instead_of_failing(login, cast: Cast, sealed, at_call_time):
    client = login(cast.operator)
    emergency = _log_call(client, cast, "screaming, two men")
    response = client.get(reverse("alerts:emergency_detail", args=[emergency.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Sealed: what was heard" in page
    assert "screaming" not in page
    assert "key holders must unseal it" in page  # the banner


def test_acknowledge_works_while_sealed(login, cast: Cast, sealed, at_call_time):
    client = login(cast.operator)
    emergency = _log_call(client, cast, "screaming")
    response = client.post(reverse("alerts:emergency_acknowledge", args=[emergency.pk]))
    assert response.status_code == 302
    assert Emergency.objects.get().acknowledged_by == cast.operator


def test_the_board_works_while_sealed(login, cast: Cast, sealed, at_call_time):
    client = login(cast.operator)
    _log_call(client, cast, "screaming")
    assert client.get(reverse("alerts:board")).status_code == 200


def test_what_was_written_while_sealed_is_readable_after_the_unseal(
    login, cast: Cast, sealed, at_call_time
):
    _log_call(login(cast.operator), cast, "screaming, two men")
    sealed.unseal()
    emergency = Emergency.objects.get()
    assert (emergency.heard, emergency.location_hint) == ("screaming, two men", "the flat")


def test_key_rotation_rewraps_intake_box_keys_to_the_current_kek(
    login, cast: Cast, sealed, at_call_time
):
    _log_call(login(cast.operator), cast, "screaming")
    sealed.unseal()
    key_services.keys_rotate()
    assert not DataKey.objects.filter(kek_version=0).exists()
    assert Emergency.objects.get().heard == "screaming"


def test_records_from_before_the_seal_stay_readable_after_the_unseal(cast: Cast, sealed):
    from refuge.people.models import ProtectedPerson

    sealed.unseal()
    assert ProtectedPerson.objects.get(pk=cast.falcon.pk).legal_name == FALCON_NAME


def test_a_note_can_be_added_while_sealed_and_read_after_the_unseal(
    login, cast: Cast, sealed, at_call_time
):
    client = login(cast.operator)
    emergency = _log_call(client, cast, "screaming")
    url = reverse("alerts:emergency_note", args=[emergency.pk])
    assert client.post(url, {"text": "neighbour saw a white van"}).status_code == 302
    page = client.get(reverse("alerts:emergency_detail", args=[emergency.pk])).content.decode()
    assert "white van" not in page
    assert "readable after the unseal" in page
    sealed.unseal()
    page = client.get(reverse("alerts:emergency_detail", args=[emergency.pk])).content.decode()
    assert "neighbour saw a white van" in page


def test_a_second_call_joining_while_sealed_keeps_what_was_heard_as_notes(
    login, cast: Cast, sealed, at_call_time
):
    client = login(cast.operator)
    emergency = _log_call(client, cast, "screaming")
    response = client.post(
        reverse("alerts:emergency_call"),
        {"caller": str(cast.falcon.pk), "heard": "car doors", "location_hint": "the yard"},
    )
    assert response.status_code == 302
    assert Emergency.objects.get().pk == emergency.pk  # joined, not a second emergency
    sealed.unseal()
    page = client.get(reverse("alerts:emergency_detail", args=[emergency.pk])).content.decode()
    assert "car doors" in page
    assert "the yard" in page
    assert Emergency.objects.get().heard == "screaming"  # the older text is untouched


def test_resolving_with_a_note_works_while_sealed(login, cast: Cast, sealed, at_call_time):
    emergency = _log_call(login(cast.operator), cast, "screaming")
    client = login(cast.coordinator)  # operators resolve only an unknown caller's emergency
    response = client.post(
        reverse("alerts:emergency_resolve", args=[emergency.pk]),
        {"outcome": "false_alarm", "note": "he called back, safe"},
    )
    assert response.status_code == 302, response.content.decode()[:500]
    assert Emergency.objects.get().state == "resolved"
    sealed.unseal()
    page = client.get(reverse("alerts:emergency_detail", args=[emergency.pk])).content.decode()
    assert "he called back, safe" in page


def test_the_api_answers_with_the_texts_marked_sealed(login, cast: Cast, sealed, at_call_time):
    client = login(cast.operator)
    emergency = _log_call(client, cast, "screaming")
    client.post(reverse("alerts:emergency_note", args=[emergency.pk]), {"text": "a white van"})
    detail = client.get(f"/api/v1/emergencies/{emergency.pk}")
    assert detail.status_code == 200
    assert (detail.json()["sealed"], detail.json()["heard"]) == (True, None)
    events = client.get(f"/api/v1/emergencies/{emergency.pk}/events").json()
    note = next(e for e in events if e["kind"] == "note")
    assert (note["sealed"], note["note"]) == (True, None)
    sealed.unseal()
    detail = client.get(f"/api/v1/emergencies/{emergency.pk}").json()
    assert (detail["sealed"], detail["heard"]) == (False, "screaming")


# --- Logged calls, the open-emergencies badge and time corrections while sealed -------------------


def _log_only(client: Client, heard: str) -> CallRecord:
    response = client.post(
        reverse("alerts:emergency_call"), {"heard": heard, "location_hint": "", "action": "log"}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    return CallRecord.objects.get()


def test_a_call_can_be_logged_while_sealed_and_read_after_the_unseal(
    login, cast: Cast, sealed, at_call_time
):
    client = login(cast.operator)
    call = _log_only(client, "a man asking for FALCON")
    page = client.get(reverse("alerts:call_detail", args=[call.pk]))
    assert page.status_code == 200
    assert "Sealed: what was heard" in page.content.decode()
    sealed.unseal()
    page = client.get(reverse("alerts:call_detail", args=[call.pk])).content.decode()
    assert "a man asking for FALCON" in page


def test_a_logged_call_turned_into_an_emergency_while_sealed_pages_and_links_back(
    login, cast: Cast, sealed, at_call_time
):
    client = login(cast.operator)
    call = _log_only(client, "a man asking for FALCON")
    response = client.post(reverse("alerts:call_escalate", args=[call.pk]))
    emergency = Emergency.objects.get()
    assert response.status_code == 302
    assert emergency.next_escalation_at is not None
    page = client.get(response["Location"]).content.decode()
    assert reverse("alerts:call_detail", args=[call.pk]) in page  # its text, after the unseal
    sealed.unseal()
    assert Emergency.objects.get().heard is None  # not readable, so not copied
    assert CallRecord.objects.get().heard == "a man asking for FALCON"


def test_the_open_emergencies_badge_and_card_work_while_sealed(
    login, cast: Cast, sealed, at_call_time
):
    client = login(cast.operator)
    emergency = _log_call(client, cast, "screaming")
    dashboard = client.get("/")
    assert dashboard.status_code == 200
    body = dashboard.content.decode()
    assert 'class="badge nav-count unacknowledged"' in body
    assert emergency.code in body[body.index('id="open-emergencies-heading"') :]


def test_a_time_can_be_corrected_while_sealed_and_its_reason_read_after_the_unseal(
    login, cast: Cast, sealed, at_call_time
):
    client = login(cast.operator)
    emergency = _log_call(client, cast, "screaming")
    client.post(reverse("alerts:emergency_on_site", args=[emergency.pk]))
    response = client.post(
        reverse("alerts:emergency_time_correct", args=[emergency.pk]),
        {"field": "reported_at", "at": "2026-03-10T14:55", "reason": "rang before I typed"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    page = client.get(reverse("alerts:emergency_detail", args=[emergency.pk])).content.decode()
    assert "rang before I typed" not in page
    sealed.unseal()
    page = client.get(reverse("alerts:emergency_detail", args=[emergency.pk])).content.decode()
    assert "Reason: rang before I typed" in page
