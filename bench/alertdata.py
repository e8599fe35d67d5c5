"""People, check-in schedules, personal links and an on-call setup for the emergency-line
benchmarks, written with bulk_create.

People get only what every person has: a pseudonym and their two data keys (made with the
configured Crypto, as bench.generate does, so DataKeyField.pre_save finds them set and inserts no
key row of its own). The personal links store the SHA-256 of their token, as
alerts.services.checkin_links does; the tokens are returned to the caller and never stored. PIN
hashes are the real keyed hashes (alerts.pins), bound to each schedule's id.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.db import transaction

from bench.generate import INSERT_BATCH, _KeyMaker
from refuge.accounts.models import Role, User
from refuge.alerts import pins
from refuge.alerts.models import (
    CheckinLink,
    CheckinSchedule,
    EscalationPolicy,
    EscalationStep,
    OnCallRota,
    RotaMember,
    StaffChannel,
)
from refuge.alerts.services.checkin_links import TOKEN_BYTES
from refuge.core import clock
from refuge.people.models import ProtectedPerson
from refuge.security.models import DataKey

PIN = "2468"
DURESS_PIN = "1357"
INTERVAL_HOURS = 24
GRACE_MINUTES = 120
ONCALL_USERNAME = "bench-oncall"
ONCALL_EMAIL = "oncall@bench.example.org"

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Member:
    """One protected person of the web benchmarks: their pseudonym and personal link token."""

    pseudonym: str
    token: str


def _people(pseudonyms: Sequence[str], keys: _KeyMaker) -> list[ProtectedPerson]:
    return [
        ProtectedPerson(
            pseudonym=name,
            data_key=keys.make(DataKey.Purpose.RECORD),
            location_key=keys.make(DataKey.Purpose.LOCATION),
        )
        for name in pseudonyms
    ]


def _insert_people(people: Sequence[ProtectedPerson]) -> None:
    data_keys = [p.data_key for p in people] + [p.location_key for p in people]
    DataKey.objects.bulk_create(data_keys, batch_size=INSERT_BATCH)
    ProtectedPerson.objects.bulk_create(people, batch_size=INSERT_BATCH)


def _schedule(
    person: ProtectedPerson, alert_at: dt.datetime, *, with_pins: bool
) -> CheckinSchedule:
    schedule = CheckinSchedule(
        person=person,
        kind=CheckinSchedule.Kind.INTERVAL,
        interval_hours=INTERVAL_HOURS,
        grace_minutes=GRACE_MINUTES,
        next_deadline=alert_at - dt.timedelta(minutes=GRACE_MINUTES),
        alert_at=alert_at,
    )
    if with_pins:
        schedule.pin_hash = pins.pin_hash(str(schedule.pk), PIN)
        schedule.duress_pin_hash = pins.pin_hash(str(schedule.pk), DURESS_PIN)
    return schedule


def members(prefix: str, count: int) -> list[Member]:
    """`count` people, each with a schedule (PIN 2468, duress PIN 1357, next alert in about a day)
    and a live personal link: the senders and check-in clients of the web benchmarks."""
    keys = _KeyMaker()
    names = [f"{prefix}-{index:05d}" for index in range(1, count + 1)]
    people = _people(names, keys)
    alert_at = clock.now() + dt.timedelta(hours=INTERVAL_HOURS)
    schedules = [_schedule(person, alert_at, with_pins=True) for person in people]
    tokens = [secrets.token_urlsafe(TOKEN_BYTES) for _person in people]
    links = [
        CheckinLink(person=person, token_digest=hashlib.sha256(token.encode()).hexdigest())
        for person, token in zip(people, tokens, strict=True)
    ]
    with transaction.atomic():
        _insert_people(people)
        CheckinSchedule.objects.bulk_create(schedules, batch_size=INSERT_BATCH)
        CheckinLink.objects.bulk_create(links, batch_size=INSERT_BATCH)
    return [Member(name, token) for name, token in zip(names, tokens, strict=True)]


def on_call_email() -> User:
    """The default policy: one step, at once, to an on-call rota whose only member is a staff
    member with one e-mail channel. Every new emergency pages that one address."""
    now = clock.now()
    with transaction.atomic():
        user, _created = User.objects.get_or_create(
            username=ONCALL_USERNAME, defaults={"role": Role.OPERATOR}
        )
        StaffChannel.objects.get_or_create(
            user=user, kind=StaffChannel.Kind.EMAIL, defaults={"target": ONCALL_EMAIL}
        )
        rota, _created = OnCallRota.objects.get_or_create(
            name="Bench line", defaults={"starts_on": now - dt.timedelta(days=1)}
        )
        RotaMember.objects.get_or_create(rota=rota, user=user, defaults={"position": 0})
        EscalationPolicy.objects.filter(is_default=True).update(is_default=False)
        policy, _created = EscalationPolicy.objects.update_or_create(
            name="Bench default", defaults={"is_default": True, "repeat": 0}
        )
        EscalationStep.objects.get_or_create(
            policy=policy,
            position=0,
            defaults={
                "delay_minutes": 0,
                "target": EscalationStep.Target.ON_CALL,
                "rota": rota,
            },
        )
    return user


@dataclass(frozen=True)
class ScheduleSet:
    """What `schedules` wrote: the ids of the schedules chosen to fall due, and timings."""

    due_ids: list[uuid.UUID]
    seconds: float
    rows: int


def schedules(
    count: int,
    *,
    due: int,
    batch_size: int,
    prefix: str = "MISS",
    progress: Progress = print,
) -> ScheduleSet:
    """`count` people with an interval schedule each. Every alert_at is 1 to 25 hours away, so
    nothing is due; `due` of them, evenly spread through the set, are returned to be moved into
    the measured window later (bench.missed)."""
    import time

    started = time.perf_counter()
    keys = _KeyMaker()
    now = clock.now()
    every = max(1, count // max(due, 1))
    due_ids: list[uuid.UUID] = []
    for start in range(0, count, batch_size):
        indexes = range(start, min(count, start + batch_size))
        people = _people([f"{prefix}-{index + 1}" for index in indexes], keys)
        rows = []
        for index, person in zip(indexes, people, strict=True):
            ahead = dt.timedelta(hours=1, seconds=(index * 7_919) % (24 * 3_600))
            schedule = _schedule(person, now + ahead, with_pins=False)
            if index % every == 0 and len(due_ids) < due:
                due_ids.append(schedule.pk)
            rows.append(schedule)
        with transaction.atomic():
            _insert_people(people)
            CheckinSchedule.objects.bulk_create(rows, batch_size=INSERT_BATCH)
        elapsed = time.perf_counter() - started
        progress(
            f"  scheduled {indexes.stop:,}/{count:,} people "
            f"({elapsed:.1f} s, {indexes.stop / elapsed:,.0f} people/s)"
        )
    return ScheduleSet(due_ids=due_ids, seconds=time.perf_counter() - started, rows=count)


def operator_token() -> str:
    """An API token of an operator, who logs calls through POST /api/v1/emergencies."""
    from refuge.accounts import tokens

    user, _created = User.objects.get_or_create(
        username="bench-operator", defaults={"role": Role.OPERATOR}
    )
    _token, plaintext = tokens.token_create(actor=None, user=user, name="bench")
    return plaintext
