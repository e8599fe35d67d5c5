"""The check-in window on the person's own page and in SMS replies: the page says when the next
check-in counts; an early check-in is received, said to be early, and answered byte for byte
the same with the normal and the duress PIN (the duress one still raises the alarm)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from refuge.alerts.models import CheckinSchedule, Emergency, EmergencySource
from refuge.alerts.services import checkin_links, checkins
from refuge.people.models import ProtectedPerson
from tests.alerts.conftest import DURESS_PIN, NORMAL_PIN
from tests.conftest import FALCON_PHONE, Cast
from tests.intake.test_sms_webhook import SECRET, Gateway

pytestmark = pytest.mark.django_db

MONDAY_NIGHT = dt.datetime(2026, 3, 9, 19, 0, tzinfo=dt.UTC)  # 22:00 in Moscow
TUESDAY_MORNING = dt.datetime(2026, 3, 10, 6, 22, tzinfo=dt.UTC)  # 09:22 in Moscow
TUESDAY_EVENING = dt.datetime(2026, 3, 10, 15, 0, tzinfo=dt.UTC)  # 18:00 in Moscow
WINDOW = "Tuesday, 10 March, from 17:00 to 21:00"


@pytest.fixture
def daily_link(cast: Cast, time_machine) -> str:  # type: ignore[no-untyped-def]
    """FALCON checks in daily by 21:00 Moscow time (window 4 hours), set on Monday night."""
    time_machine.move_to(MONDAY_NIGHT, tick=False)
    schedule = checkins.schedule_set(
        actor=None,
        person=cast.falcon,
        kind="daily",
        daily_time=dt.time(21, 0),
        time_zone="Europe/Moscow",
        grace_minutes=120,
    )
    checkins.pins_set(actor=None, schedule=schedule, pin=NORMAL_PIN, duress_pin=DURESS_PIN)
    return checkin_links.link_path(checkin_links.link_issue(actor=None, person=cast.falcon))


def test_the_page_says_when_the_next_check_in_counts(client: Client, daily_link: str):
    html = client.get(daily_link).content.decode()
    assert f"Next check-in: {WINDOW}." in html


def test_the_window_in_russian(client: Client, cast: Cast, daily_link: str):
    ProtectedPerson.objects.filter(pk=cast.falcon.pk).update(languages="ru")
    html = client.get(daily_link).content.decode()
    assert "Следующая отметка: вторник, 10 марта, с 17:00 до 21:00." in html


def test_a_paused_schedule_awaits_nothing(client: Client, daily_link: str):
    checkins.schedule_pause(actor=None, schedule=CheckinSchedule.objects.get())
    assert "Next check-in" not in client.get(daily_link).content.decode()


def test_an_early_check_in_is_received_and_said_to_be_early(
    client: Client, daily_link: str, time_machine
):
    time_machine.move_to(TUESDAY_MORNING, tick=False)
    response = client.post(daily_link, {"action": "checkin", "pin": NORMAL_PIN})
    assert response.status_code == 200
    assert (
        f"Received, but too early to count. Check in again: {WINDOW}." in response.content.decode()
    )
    assert CheckinSchedule.objects.get().last_checkin_at is None


def test_early_normal_and_duress_check_ins_are_byte_identical_and_duress_alarms(
    client: Client, cast: Cast, daily_link: str, time_machine
):
    time_machine.move_to(TUESDAY_MORNING, tick=False)
    normal = client.post(daily_link, {"action": "checkin", "pin": NORMAL_PIN})
    duress = client.post(daily_link, {"action": "checkin", "pin": DURESS_PIN})
    assert normal.status_code == duress.status_code == 200
    assert normal.content == duress.content
    assert dict(normal.headers) == dict(duress.headers)
    checkins.raise_duress_alarms()  # the worker's tick
    emergency = Emergency.objects.get()
    assert emergency.source == EmergencySource.DURESS
    assert list(emergency.people.all()) == [cast.falcon]


def test_inside_the_window_normal_and_duress_check_ins_are_byte_identical(
    client: Client, cast: Cast, daily_link: str, time_machine
):
    # The first check-in inside the window moves the deadline on, so the second is compared
    # on a second, identical schedule (BIRCH's).
    schedule = checkins.schedule_set(
        actor=None,
        person=cast.birch,
        kind="daily",
        daily_time=dt.time(21, 0),
        time_zone="Europe/Moscow",
        grace_minutes=120,
    )
    checkins.pins_set(actor=None, schedule=schedule, pin=NORMAL_PIN, duress_pin=DURESS_PIN)
    ProtectedPerson.objects.filter(pk=cast.birch.pk).update(languages="en")
    birch_link = checkin_links.link_path(checkin_links.link_issue(actor=None, person=cast.birch))
    time_machine.move_to(TUESDAY_EVENING, tick=False)
    normal = client.post(daily_link, {"action": "checkin", "pin": NORMAL_PIN})
    duress = client.post(birch_link, {"action": "checkin", "pin": DURESS_PIN})
    assert normal.content == duress.content
    assert dict(normal.headers) == dict(duress.headers)
    assert (
        "Thank you. Next check-in: Wednesday, 11 March, from 17:00 to 21:00."
        in normal.content.decode()
    )


def test_an_early_check_in_by_sms_is_said_to_be_early(
    cast: Cast, daily_link: str, time_machine, settings
):
    settings.SMS_WEBHOOK_SECRET = SECRET
    checkin_links.binding_add(actor=None, person=cast.falcon, kind="sms", sender=FALCON_PHONE)
    time_machine.move_to(TUESDAY_MORNING, tick=False)
    gateway = Gateway(Client())
    normal = gateway.send(FALCON_PHONE, f"CHECKIN {NORMAL_PIN}").json()["reply"]
    duress = gateway.send(FALCON_PHONE, f"CHECKIN {DURESS_PIN}").json()["reply"]
    assert normal == duress == f"Received, but too early to count. Check in again: {WINDOW}."
