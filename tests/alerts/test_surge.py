"""A surge of alerts raised together (alerts.services.surge): the same emergencies, events,
notifications and audit entries as one `raise_alert` each, in a number of queries that does not
grow with the surge."""

from __future__ import annotations

import pytest

from refuge.alerts.models import (
    Alert,
    Emergency,
    EmergencyEvent,
    EmergencySource,
    EmergencyState,
    EscalationPolicy,
    EscalationStep,
    Notification,
    Priority,
)
from refuge.alerts.services import emergencies, surge
from refuge.core import clock
from refuge.security import audit
from refuge.security.models import AuditEntry
from tests.conftest import Cast
from tests.factories import CaseFactory, PersonFactory

pytestmark = pytest.mark.django_db


def _spec(person, key: str | None = None) -> surge.AlertSpec:  # type: ignore[no-untyped-def]
    return surge.AlertSpec(
        source=EmergencySource.MISSED_CHECKIN,
        person=person,
        priority=Priority.HIGH,
        reported_at=clock.now(),
        dedupe_key=key or f"missed:{person.pk}",
    )


def _shape(emergency: Emergency) -> dict[str, object]:
    """What an emergency amounts to, without its ids, code and times."""
    return {
        "source": emergency.source,
        "priority": emergency.priority,
        "state": emergency.state,
        "team": emergency.team_id,
        "step": (emergency.escalation_step, emergency.escalation_round),
        "next_in": emergency.next_escalation_at - emergency.opened_at,  # type: ignore[operator]
        "events": sorted(emergency.events.values_list("kind", flat=True)),
        "paged": sorted(emergency.notifications.values_list("recipient__username", flat=True)),
        "cases": sorted(str(pk) for pk in emergency.cases.values_list("pk", flat=True)),
        "alerts": emergency.alerts.count(),
        "audit": sorted(
            AuditEntry.objects.filter(object_id=str(emergency.pk)).values_list("action", flat=True)
        ),
        "keys": (emergency.data_key_id is not None, emergency.location_key_id is not None),
    }


def test_a_surge_opens_what_raise_alert_opens_one_by_one(cast: Cast, default_policy, at_call_time):
    one = emergencies.raise_alert(
        source=EmergencySource.MISSED_CHECKIN,
        people=[cast.falcon],
        priority=Priority.HIGH,
        reported_at=clock.now(),
        dedupe_key="missed:falcon",
    )
    team_mate = PersonFactory()
    CaseFactory(team=cast.case.team, people=[team_mate])

    assert surge.raise_alerts([_spec(team_mate)]) == 1

    bulk = Emergency.objects.exclude(pk=one.pk).get()
    expected = _shape(one)
    got = _shape(bulk)
    assert got.pop("cases") != expected.pop("cases")  # each its own person's case
    assert got == expected
    assert bulk.people.get() == team_mate
    assert audit.verify().ok


def test_each_emergency_of_a_surge_is_paged_once_and_the_chain_verifies(
    cast: Cast, default_policy, at_call_time
):
    people = [PersonFactory() for _ in range(12)]

    assert surge.raise_alerts([_spec(p) for p in people]) == 12

    assert Emergency.objects.count() == 12
    assert Alert.objects.count() == 12
    assert set(Notification.objects.values_list("recipient__username", flat=True)) == {"operator"}
    assert Notification.objects.count() == 12
    codes = list(Emergency.objects.values_list("code", flat=True))
    assert len(set(codes)) == 12
    assert audit.verify().ok


def test_a_surge_of_fifty_costs_hardly_more_queries_than_one_of_five(
    cast: Cast, default_policy, at_call_time
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = []
    for size in (5, 50):
        people = [PersonFactory() for _ in range(size)]
        with CaptureQueriesContext(connection) as queries:
            surge.raise_alerts([_spec(p) for p in people])
        counts.append(len(queries.captured_queries))
    # Large INSERTs are split in batches (SQLite's limit on parameters); nothing is per alert.
    assert counts[1] <= counts[0] + 5


def test_raising_the_same_surge_again_raises_nothing(cast: Cast, default_policy, at_call_time):
    people = [PersonFactory() for _ in range(3)]
    assert surge.raise_alerts([_spec(p) for p in people]) == 3
    assert surge.raise_alerts([_spec(p) for p in people]) == 0
    assert Emergency.objects.count() == 3
    assert Notification.objects.count() == 3


def test_a_person_already_in_an_emergency_joins_it_and_nobody_is_paged_again(
    cast: Cast, default_policy, at_call_time
):
    call = emergencies.emergency_open_call(
        actor=cast.operator, caller=None, heard="screaming", location_hint="", people=[cast.falcon]
    )
    paged = Notification.objects.count()
    stranger = PersonFactory()

    assert surge.raise_alerts([_spec(cast.falcon), _spec(stranger)]) == 2

    assert Emergency.objects.count() == 2
    assert call.alerts.filter(source=EmergencySource.MISSED_CHECKIN).count() == 1
    assert call.events.filter(kind=EmergencyEvent.Kind.JOINED).count() == 1
    assert Notification.objects.count() == paged + 1  # only the stranger's new emergency


def test_a_person_of_a_case_in_an_emergency_joins_it(cast: Cast, default_policy, at_call_time):
    call = emergencies.emergency_open_call(
        actor=cast.operator, caller=None, heard="", location_hint="", people=[cast.falcon]
    )
    assert surge.raise_alerts([_spec(cast.birch)]) == 1  # BIRCH is on FALCON's case
    assert Emergency.objects.get() == call


def test_two_alerts_for_one_person_in_one_surge_open_one_emergency(
    cast: Cast, default_policy, at_call_time
):
    person = PersonFactory()
    assert surge.raise_alerts([_spec(person, "missed:a"), _spec(person, "missed:b")]) == 2
    emergency = Emergency.objects.get()
    assert emergency.alerts.count() == 2
    assert emergency.state == EmergencyState.OPEN


def test_a_case_team_first_step_pages_each_emergencys_own_team(cast: Cast, at_call_time):
    policy = EscalationPolicy.objects.create(name="Team first", is_default=True)
    EscalationStep.objects.create(
        policy=policy, position=0, delay_minutes=0, target=EscalationStep.Target.CASE_TEAM
    )
    outsider_person = PersonFactory()
    outsider_team = cast.outsider.memberships.get().team
    CaseFactory(team=outsider_team, people=[outsider_person])

    surge.raise_alerts([_spec(cast.falcon), _spec(outsider_person)])

    def paged(person) -> set[str]:  # type: ignore[no-untyped-def]
        emergency = Emergency.objects.get(people=person)
        return set(emergency.notifications.values_list("recipient__username", flat=True))

    assert paged(cast.falcon) == {"caseworker", "lawyer"}
    assert paged(outsider_person) == {"outsider"}


def test_two_people_of_one_case_missing_together_open_one_emergency(
    cast: Cast, default_policy, at_call_time
):
    assert surge.raise_alerts([_spec(cast.falcon), _spec(cast.birch)]) == 2
    emergency = Emergency.objects.get()  # as raise_alert one by one: BIRCH joins FALCON's
    assert emergency.alerts.count() == 2
    assert Notification.objects.filter(emergency=emergency).count() == 1


def test_people_already_in_emergencies_join_them_in_bulk(cast: Cast, default_policy, at_call_time):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = []
    for size in (3, 30):
        people = [PersonFactory() for _ in range(size)]
        for person in people:
            emergencies.raise_alert(
                source=EmergencySource.SOS,
                people=[person],
                priority=Priority.LOW,
                reported_at=clock.now(),
                dedupe_key=f"sos:{person.pk}",
            )
        paged = Notification.objects.count()
        with CaptureQueriesContext(connection) as queries:
            assert surge.raise_alerts([_spec(p) for p in people]) == size
        counts.append(len(queries.captured_queries))
        assert Notification.objects.count() == paged  # nobody paged again
        for person in people:
            emergency = Emergency.objects.get(people=person)
            assert emergency.priority == Priority.HIGH  # raised to the missed check-in's
            assert emergency.alerts.count() == 2
            assert emergency.events.filter(kind=EmergencyEvent.Kind.JOINED).count() == 1
    assert counts[1] <= counts[0] + 5
    assert AuditEntry.objects.filter(action="refuge.alerts.emergency.joined").count() == 33
    assert audit.verify().ok
