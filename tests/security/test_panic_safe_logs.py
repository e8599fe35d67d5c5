"""Logs never carry a legal identity, a PIN or a token: load the whole reference scenario (people,
cases, the emergency of step 3 with its pages), run the worker's ticks and a check-in with the
duress PIN, with every logger at DEBUG, then search everything that was logged."""

from __future__ import annotations

import logging
import re

import pytest
from django.core.management import call_command

from refuge.alerts.models import CheckinSchedule
from refuge.alerts.services import checkins
from refuge.core import jobs
from tests.conftest import BIRCH_NAME, BIRCH_PHONE, FALCON_NAME, FALCON_PHONE, FLAT_ADDRESS

pytestmark = pytest.mark.django_db

SECRETS = [
    FALCON_NAME,
    "Testaev",
    FALCON_PHONE,
    "9005550123",
    BIRCH_NAME,
    "Demoev",
    BIRCH_PHONE,
    "9005550456",
    FLAT_ADDRESS,
    "Testovaya",
]
PINS = ["2468", "1357", "3690", "1470"]


def test_nothing_logged_during_the_scenario_names_anyone(settings, caplog, capsys):
    settings.DEMO_MODE = True
    settings.NOTIFIER = "log"
    caplog.set_level(logging.DEBUG)
    call_command("demo", "--no-serve")
    capsys.readouterr()  # the demo banner prints the demo PINs on purpose; that is not a log
    jobs.run_ticks()
    schedule = CheckinSchedule.objects.get(person__pseudonym="FALCON")
    checkins.checkin_submit(schedule=schedule, pin="1357", channel="web")
    checkins.checkin_submit(schedule=schedule, pin="0000", channel="web")
    jobs.run_due()
    jobs.run_ticks()
    logged = "\n".join(
        f"{record.getMessage()} {record.exc_text or ''}" for record in caplog.records
    )
    assert caplog.records, "nothing was logged: the test would prove nothing"
    leaks = [s for s in SECRETS if s.casefold() in logged.casefold()]
    # A PIN is a short digit run: look for it as a number of its own, not inside ids or hex.
    leaks += [pin for pin in PINS if re.search(rf"(?<![0-9A-Za-z]){pin}(?![0-9A-Za-z])", logged)]
    assert not leaks, f"logged: {leaks}"
