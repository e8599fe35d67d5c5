"""SOS limits that never drop an SOS: a person's repeated SOS within minutes is counted on their
alert, and SOS from many links from one address beyond the limit join one flood emergency,
paged once. The address is never stored: a keyed hash per ten-minute window, purged after."""

from __future__ import annotations

import datetime as dt

import pytest

from refuge.alerts import checkin_tasks, selectors_checkins
from refuge.alerts.models import (
    Alert,
    Emergency,
    EmergencySource,
    EmergencyState,
    Notification,
    Priority,
    SourceWindow,
)
from refuge.alerts.services import checkins, emergencies, escalation, source_windows
from refuge.core import clock, jobs
from refuge.people.models import ProtectedPerson
from tests.alerts.conftest import NORMAL_PIN
from tests.conftest import Cast
from tests.factories import PersonFactory

pytestmark = pytest.mark.django_db

WEB = "web"
ADDRESS = "203.0.113.7"


def _people(count: int) -> list[ProtectedPerson]:
    """People on no case, so their SOS cannot join each other's emergencies through a case."""
    return [PersonFactory() for _ in range(count)]


def _sos(person: ProtectedPerson, address: str = ADDRESS) -> None:
    checkins.sos_submit(person=person, channel=WEB, address=address)


# --- a person's repeated SOS ------------------------------------------------------------------


def test_repeated_sos_within_minutes_are_counted_on_one_alert(cast: Cast, at_call_time):
    for _press in range(5):
        _sos(cast.falcon)
        at_call_time.shift(dt.timedelta(seconds=20))
    alert = Alert.objects.get()
    assert alert.source == EmergencySource.SOS
    assert alert.repeats == 4
    assert alert.last_repeat_at == clock.now() - dt.timedelta(seconds=20)
    emergency = Emergency.objects.get()
    assert emergency.priority == Priority.TOP
    assert selectors_checkins.sos_presses(emergency=emergency) == 5


def test_repeats_page_nobody_again(cast: Cast, at_call_time, default_policy):
    _sos(cast.falcon)
    escalation.escalation_tick()
    paged = Notification.objects.count()
    assert paged > 0
    for _press in range(4):
        _sos(cast.falcon)
    escalation.escalation_tick()
    assert Notification.objects.count() == paged


def test_a_press_after_the_repeat_window_is_raised_again_and_joins(cast: Cast, at_call_time):
    _sos(cast.falcon)
    at_call_time.shift(checkins.sos.SOS_REPEAT_WINDOW + dt.timedelta(seconds=1))
    _sos(cast.falcon)
    assert Alert.objects.count() == 2
    assert Emergency.objects.count() == 1


def test_an_sos_after_the_person_cancelled_opens_a_new_emergency(
    cast: Cast, at_call_time, falcon_schedule
):
    _sos(cast.falcon)
    assert checkins.cancel_submit(schedule=falcon_schedule, pin=NORMAL_PIN, channel=WEB)
    _sos(cast.falcon)  # never swallowed as a repeat of a resolved emergency
    assert Emergency.objects.filter(state=EmergencyState.RESOLVED).count() == 1
    assert Emergency.objects.filter(state=EmergencyState.OPEN).count() == 1


def test_sms_and_telegram_sos_are_counted_as_repeats_too(cast: Cast, at_call_time):
    checkins.sos_submit(person=cast.falcon, channel="webhook")
    checkins.sos_submit(person=cast.falcon, channel="telegram")
    assert Alert.objects.get().repeats == 1
    assert not SourceWindow.objects.exists()  # no address: no per-address count


# --- many links from one address --------------------------------------------------------------


def test_beyond_the_limit_sos_from_one_address_join_one_flood_emergency(at_call_time):
    people = _people(source_windows.SOS_PER_SOURCE + 3)
    for person in people:
        _sos(person)
    own = Emergency.objects.filter(source=EmergencySource.SOS)
    assert own.count() == source_windows.SOS_PER_SOURCE
    flood = Emergency.objects.get(source=EmergencySource.SOS_FLOOD)
    assert flood.priority == Priority.TOP
    assert set(flood.people.all()) == set(people[source_windows.SOS_PER_SOURCE :])
    # Every SOS was raised: none is dropped.
    assert Alert.objects.count() == len(people)
    assert selectors_checkins.sos_presses(emergency=flood) == 3


def test_the_flood_is_paged_once(at_call_time, default_policy):
    for person in _people(source_windows.SOS_PER_SOURCE + 1):
        _sos(person)
    escalation.escalation_tick()
    flood = Emergency.objects.get(source=EmergencySource.SOS_FLOOD)
    paged = Notification.objects.filter(emergency=flood).count()
    assert paged > 0
    for person in _people(5):
        _sos(person)
    escalation.escalation_tick()
    assert Notification.objects.filter(emergency=flood).count() == paged
    assert Emergency.objects.count() == source_windows.SOS_PER_SOURCE + 1


def test_a_person_in_the_flood_pressing_again_is_a_repeat(at_call_time):
    people = _people(source_windows.SOS_PER_SOURCE + 1)
    for person in people:
        _sos(person)
    _sos(people[-1])
    flood = Emergency.objects.get(source=EmergencySource.SOS_FLOOD)
    assert Alert.objects.get(emergency=flood).repeats == 1


def test_a_flooded_person_with_an_emergency_of_their_own_joins_it(cast: Cast, at_call_time):
    for person in _people(source_windows.SOS_PER_SOURCE):
        _sos(person)
    own = emergencies.raise_alert(
        source=EmergencySource.MISSED_CHECKIN,
        people=[cast.falcon],
        reported_at=clock.now(),
        dedupe_key="missed:falcon:test",
    )
    _sos(cast.falcon)
    assert Alert.objects.filter(emergency=own, source=EmergencySource.SOS_FLOOD).count() == 1
    assert not Emergency.objects.filter(source=EmergencySource.SOS_FLOOD).exists()


def test_other_addresses_are_not_limited(at_call_time):
    for number, person in enumerate(_people(source_windows.SOS_PER_SOURCE + 2)):
        _sos(person, address=f"198.51.100.{number + 1}")
    assert not Emergency.objects.filter(source=EmergencySource.SOS_FLOOD).exists()


def test_an_ipv6_address_counts_by_its_slash_64(at_call_time):
    people = _people(source_windows.SOS_PER_SOURCE + 1)
    for number, person in enumerate(people):
        _sos(person, address=f"2001:db8:1:2::{number + 1:x}")
    assert Emergency.objects.filter(source=EmergencySource.SOS_FLOOD).count() == 1
    _sos(PersonFactory(), address="2001:db8:1:3::1")  # another /64
    assert Emergency.objects.filter(source=EmergencySource.SOS).count() == (
        source_windows.SOS_PER_SOURCE + 1
    )


def test_a_resolved_flood_emergency_is_followed_by_a_new_one(at_call_time):
    for person in _people(source_windows.SOS_PER_SOURCE + 1):
        _sos(person)
    Emergency.objects.filter(source=EmergencySource.SOS_FLOOD).update(state=EmergencyState.RESOLVED)
    _sos(PersonFactory())
    assert Emergency.objects.filter(source=EmergencySource.SOS_FLOOD).count() == 2


def test_the_limit_starts_again_in_the_next_window(at_call_time):
    for person in _people(source_windows.SOS_PER_SOURCE):
        _sos(person)
    at_call_time.shift(source_windows.WINDOW)
    _sos(PersonFactory())
    assert not Emergency.objects.filter(source=EmergencySource.SOS_FLOOD).exists()


# --- the address is never stored ----------------------------------------------------------------


def test_only_a_keyed_hash_that_changes_every_window_is_stored(at_call_time):
    _sos(PersonFactory())
    first = SourceWindow.objects.get()
    assert ADDRESS not in first.source
    assert len(first.source) == 64
    at_call_time.shift(source_windows.WINDOW)
    _sos(PersonFactory())
    second = SourceWindow.objects.get()  # the passed window's row went when this one came
    assert second.source != first.source


def test_passed_windows_are_purged_by_the_worker(at_call_time):
    _sos(PersonFactory())
    at_call_time.shift(source_windows.WINDOW)
    assert checkin_tasks.SOURCE_WINDOWS_JOB in jobs.registered_handlers()
    jobs.enqueue(checkin_tasks.SOURCE_WINDOWS_JOB, {})
    while jobs.run_due(10):
        pass
    assert not SourceWindow.objects.exists()


def test_bad_links_are_limited_per_address(at_call_time):
    limited = [
        source_windows.bad_link_limited(ADDRESS)
        for _request in range(source_windows.BAD_LINKS_PER_SOURCE + 1)
    ]
    assert limited == [False] * source_windows.BAD_LINKS_PER_SOURCE + [True]
    assert not source_windows.bad_link_limited("198.51.100.1")
    assert not source_windows.bad_link_limited("")  # no address: nothing to count
    assert not source_windows.bad_link_limited("not an address")


@pytest.fixture(scope="module")
def flushable(django_db_setup, django_db_blocker):  # type: ignore[no-untyped-def]
    """A transactional test ends by emptying every table; on PostgreSQL the audit table's
    append-only triggers refuse that, so they are lifted until the module is done (as in
    test_emergencies.audit_truncatable)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        yield
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute("ALTER TABLE security_auditentry DISABLE TRIGGER USER")
    yield
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute("ALTER TABLE security_auditentry ENABLE TRIGGER USER")


@pytest.mark.django_db(transaction=True)
def test_the_counts_are_shared_by_concurrent_connections(flushable, at_call_time):
    """As by gunicorn's processes: each thread has its own database connection; the counts
    all land on one row, and racing to create it loses none."""
    import threading

    from django.db import connection

    threads, calls = 6, 5
    barrier = threading.Barrier(threads)

    def client() -> None:
        try:
            barrier.wait()
            for _call in range(calls):
                source_windows.bad_link_limited(ADDRESS)
        finally:
            connection.close()

    workers = [threading.Thread(target=client) for _thread in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    row = SourceWindow.objects.get()
    assert row.bad_links == threads * calls
