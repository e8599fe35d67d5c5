"""A person's check-ins page: schedule, deadlines in two time zones, PINs, the personal link."""

from __future__ import annotations

import datetime as dt
import logging
import re

import pytest
import time_machine
from django.conf import settings
from django.urls import reverse

from refuge.alerts.models import CheckinLink, CheckinSchedule
from refuge.alerts.services import checkins
from refuge.security.models import AuditEntry
from tests.conftest import FALCON_NAME, FLAT_ADDRESS

pytestmark = pytest.mark.django_db

# A Thursday in winter: Moscow is UTC+3 all year, New York is on standard time (UTC-5).
NOW = dt.datetime(2026, 1, 15, 10, 0, tzinfo=dt.UTC)
PIN, DURESS = "2468", "1357"


def page(cast) -> str:
    return reverse("alerts:person_checkins", args=[cast.falcon.pk])


def action(name: str, cast) -> str:
    return reverse(f"alerts:checkins_{name}", args=[cast.falcon.pk])


def daily_at_nine(cast) -> CheckinSchedule:
    return checkins.schedule_set(
        actor=cast.coordinator,
        person=cast.falcon,
        kind="daily",
        daily_time=dt.time(21, 0),
        time_zone="Europe/Moscow",
        grace_minutes=120,
    )


# --- Who sees it ----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["coordinator", "caseworker", "lawyer"])
def test_the_case_team_sees_and_changes_the_schedule(role, cast, login):
    daily_at_nine(cast)
    body = login(cast.by_role()[role]).get(page(cast)).content.decode()
    assert "Daily at 21:00" in body
    assert action("schedule_set", cast) in body
    assert action("pins_set", cast) in body


def test_operators_see_the_schedule_without_the_forms(cast, login):
    daily_at_nine(cast)
    response = login(cast.operator).get(page(cast))
    body = response.content.decode()
    assert response.status_code == 200
    assert "Daily at 21:00" in body
    assert action("schedule_set", cast) not in body
    assert login(cast.operator).post(action("resume", cast)).status_code == 404


@pytest.mark.parametrize("role", ["outsider", "analyst", "admin"])
def test_others_get_404_for_every_method(role, cast, login):
    daily_at_nine(cast)
    client = login(cast.by_role()[role])
    assert client.get(page(cast)).status_code == 404
    for name in ("schedule_set", "pause", "resume", "pins_set", "link_issue", "link_revoke"):
        assert client.post(action(name, cast), {"pin": PIN}).status_code == 404


def test_the_page_reveals_no_identity(cast, login):
    daily_at_nine(cast)
    body = login(cast.lawyer).get(page(cast)).content.decode()
    assert FALCON_NAME not in body
    assert FLAT_ADDRESS not in body


def test_the_person_page_links_to_the_check_ins(cast, login):
    body = login(cast.lawyer).get(reverse("people:detail", args=[cast.falcon.pk])).content
    assert page(cast).encode() in body


# --- Deadlines in two time zones ------------------------------------------------------------------


def test_the_next_deadline_is_spelled_out_for_the_person_and_for_the_viewer(cast, login):
    cast.lawyer.time_zone = "America/New_York"
    cast.lawyer.save()
    with time_machine.travel(NOW, tick=False):
        daily_at_nine(cast)
        body = login(cast.lawyer).get(page(cast)).content.decode()
    assert "Thursday, 15 January 2026, 21:00 (Europe/Moscow, UTC+03:00)" in body
    assert "Thursday, 15 January 2026, 13:00 (America/New_York, UTC-05:00)" in body
    assert "in 8 h 00 min" in body
    # Missed after deadline + grace: 23:00 in Moscow.
    assert "Thursday, 15 January 2026, 23:00 (Europe/Moscow, UTC+03:00)" in body


def test_a_viewer_without_a_time_zone_reads_the_servers(cast, login):
    with time_machine.travel(NOW, tick=False):
        daily_at_nine(cast)
        body = login(cast.lawyer).get(page(cast)).content.decode()
    zone = settings.TIME_ZONE
    assert f"Your time zone is {zone}" in body


def test_the_last_check_in_is_shown(cast, login):
    with time_machine.travel(NOW, tick=False):
        schedule = daily_at_nine(cast)
        CheckinSchedule.objects.filter(pk=schedule.pk).update(
            last_checkin_at=NOW - dt.timedelta(hours=2)
        )
        body = login(cast.lawyer).get(page(cast)).content.decode()
    assert "Thursday, 15 January 2026, 11:00 (Europe/Moscow, UTC+03:00)" in body
    assert "2 h 00 min ago" in body


def test_without_a_schedule_the_form_is_open(cast, login):
    body = login(cast.lawyer).get(page(cast)).content.decode()
    assert "No check-in schedule yet." in body
    assert "Set a schedule" in body


# --- Changing the schedule ------------------------------------------------------------------------


def test_setting_a_schedule(cast, login):
    response = login(cast.caseworker).post(
        action("schedule_set", cast),
        {
            "kind": "interval",
            "interval_hours": "6",
            "time_zone": "Asia/Yekaterinburg",
            "grace_minutes": "30",
        },
    )
    assert response.status_code == 302
    schedule = CheckinSchedule.objects.get(person=cast.falcon)
    assert (schedule.kind, schedule.interval_hours, schedule.time_zone) == (
        "interval",
        6,
        "Asia/Yekaterinburg",
    )
    assert schedule.next_deadline is not None


def test_a_refused_schedule_is_explained(cast, login):
    response = login(cast.caseworker).post(
        action("schedule_set", cast),
        {"kind": "daily", "daily_time": "", "time_zone": "Europe/Moscow", "grace_minutes": "120"},
    )
    assert response.status_code == 400
    assert "Enter a time of day" in response.content.decode()
    assert not CheckinSchedule.objects.exists()


def test_pausing_and_resuming(cast, login):
    daily_at_nine(cast)
    client = login(cast.lawyer)
    assert client.post(action("pause", cast), {"until": ""}).status_code == 302
    assert CheckinSchedule.objects.get().paused
    assert "None while paused." in client.get(page(cast)).content.decode()
    assert client.post(action("resume", cast)).status_code == 302
    assert not CheckinSchedule.objects.get().paused


def test_pausing_needs_a_schedule(cast, login):
    response = login(cast.lawyer).post(action("pause", cast), {"until": ""})
    assert response.status_code == 400
    assert "Set a schedule first." in response.content.decode()


# --- PINs -----------------------------------------------------------------------------------------


def test_pins_are_set_and_never_shown_audited_or_logged(cast, login, caplog):
    daily_at_nine(cast)
    client = login(cast.lawyer)
    with caplog.at_level(logging.DEBUG):
        response = client.post(action("pins_set", cast), {"pin": PIN, "duress_pin": DURESS})
        follow = client.get(page(cast))
    assert response.status_code == 302
    schedule = CheckinSchedule.objects.get()
    assert schedule.pin_hash
    assert schedule.duress_pin_hash
    texts = [follow.content.decode(), caplog.text, schedule.pin_hash, schedule.duress_pin_hash]
    texts += [str(entry.detail) for entry in AuditEntry.objects.all()]
    for text in texts:
        assert not shows(PIN, text)
        assert not shows(DURESS, text)


def shows(pin: str, text: str) -> bool:
    """The PIN as a value of its own, not four digits that happen to sit in a hash or token."""
    return re.search(rf"(?<![0-9A-Za-z]){pin}(?![0-9A-Za-z])", text) is not None


def test_a_refused_pin_is_not_echoed_back(cast, login):
    daily_at_nine(cast)
    response = login(cast.lawyer).post(
        action("pins_set", cast), {"pin": "24x8", "duress_pin": DURESS}
    )
    body = response.content.decode()
    assert response.status_code == 400
    assert "A PIN is 4 to 8 digits." in body
    assert "24x8" not in body
    assert DURESS not in body
    assert not CheckinSchedule.objects.get().pin_hash


def test_the_duress_pin_must_differ(cast, login):
    daily_at_nine(cast)
    response = login(cast.lawyer).post(action("pins_set", cast), {"pin": PIN, "duress_pin": PIN})
    assert response.status_code == 400
    assert "must differ" in response.content.decode()


# --- The personal link ----------------------------------------------------------------------------


def test_a_new_link_is_shown_once(cast, login):
    client = login(cast.lawyer)
    response = client.post(action("link_issue", cast))
    body = response.content.decode()
    assert response.status_code == 200
    assert settings.PUBLIC_BASE_URL + "/c/" in body
    link = CheckinLink.objects.get(person=cast.falcon)
    start = body.index(settings.PUBLIC_BASE_URL + "/c/")
    url = body[start : body.index("<", start)]
    assert url not in client.get(page(cast)).content.decode()
    assert link.token_digest not in body


def test_revoking_the_link(cast, login):
    client = login(cast.lawyer)
    client.post(action("link_issue", cast))
    assert client.post(action("link_revoke", cast)).status_code == 302
    assert not CheckinLink.objects.filter(revoked_at__isnull=True).exists()
    assert "No personal link works at the moment." in client.get(page(cast)).content.decode()


@pytest.mark.parametrize("name", ["schedule_set", "pause", "resume", "pins_set", "link_issue"])
def test_changes_are_post_only(name, cast, login):
    assert login(cast.lawyer).get(action(name, cast)).status_code == 405


# --- The viewer's own time zone -------------------------------------------------------------------


def test_staff_choose_their_time_zone_and_the_change_is_audited(cast, login):
    client = login(cast.operator)
    assert client.get("/accounts/me/").status_code == 200
    response = client.post("/accounts/me/", {"time_zone": "Asia/Vladivostok"})
    assert response.status_code == 302
    cast.operator.refresh_from_db()
    assert cast.operator.time_zone == "Asia/Vladivostok"
    entry = AuditEntry.objects.get(action="refuge.accounts.user.settings_changed")
    assert entry.actor_label == "operator"
    assert "Asia/Vladivostok" in client.get("/accounts/me/").content.decode()


def test_an_unknown_time_zone_is_refused(cast, login):
    response = login(cast.operator).post("/accounts/me/", {"time_zone": "Mars/Olympus"})
    assert response.status_code == 400
    cast.operator.refresh_from_db()
    assert cast.operator.time_zone == ""


def test_pages_show_times_in_the_viewers_time_zone(cast, login):
    cast.caseworker.time_zone = "Asia/Vladivostok"
    cast.caseworker.save()
    body = login(cast.caseworker).get("/accounts/me/").content.decode()
    assert "Times are now shown in Asia/Vladivostok." in body
