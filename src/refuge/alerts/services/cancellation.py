"""The protected person "cancels" an SOS (with their normal PIN, or, under duress, with the
duress PIN), from the page, an SMS or Telegram. Raising alerts is in services.emergencies."""

from __future__ import annotations

import uuid

from django.db import transaction
from django.db.models import Q

from refuge.alerts.models import (
    ACTIVE_STATES,
    Emergency,
    EmergencyEvent,
    EmergencySource,
    EmergencyState,
    Outcome,
    Priority,
)
from refuge.alerts.services import emergencies, escalation
from refuge.core import clock, wakeup
from refuge.people.models import ProtectedPerson
from refuge.security import audit


def cancel_by_person(
    *, person: ProtectedPerson, via_duress: bool, channel: str
) -> Emergency | None:
    """The protected person "cancels" an SOS.

    With the normal PIN, an active emergency made only of this person's own SOS alerts is
    resolved as cancelled by the person, at low priority, with a note staff still see; one that
    other signals joined stays open with the note. With the duress PIN the alarm stays, goes to
    top priority and escalates at once (and opens, if nothing was open). The person's page shows
    the same response either way."""
    with transaction.atomic():
        audit._lock_head()
        emergencies._lock_keys([f"person:{person.pk}"])
        pk = (
            Emergency.objects.filter(
                state__in=ACTIVE_STATES,
                alerts__person=person,
                alerts__source__in=[EmergencySource.SOS, EmergencySource.DURESS],
            )
            .order_by("-opened_at")
            .values_list("pk", flat=True)
            .first()
        )
        if pk is None:
            if not via_duress:
                return None
            now = clock.now()
            return emergencies.raise_alert(
                source=EmergencySource.DURESS,
                people=[person],
                priority=Priority.TOP,
                reported_at=now,
                dedupe_key=f"cancel-duress:{uuid.uuid4()}",
            )
        emergency = Emergency.objects.select_for_update().get(pk=pk)
        if via_duress:
            _cancel_under_duress(emergency, channel)
        else:
            _cancel(emergency, person, channel)
        return emergency


def _cancel_under_duress(emergency: Emergency, channel: str) -> None:
    now = clock.now()
    emergency.priority = Priority.TOP
    if emergency.state in {EmergencyState.OPEN, EmergencyState.ACKNOWLEDGED}:
        # Whoever acknowledged has not left yet: page again, from where escalation stands.
        emergency.state = EmergencyState.OPEN
        emergency.ack_expires_at = None
        emergency.next_escalation_at = now
        wakeup.wake_worker()
    emergency.save(
        update_fields=["priority", "state", "ack_expires_at", "next_escalation_at", "updated_at"]
    )
    escalation.event(
        emergency,
        EmergencyEvent.Kind.CANCEL_REQUESTED,
        data={"channel": channel[:20], "duress": True, "cancelled": False},
    )
    audit.record(
        "refuge.alerts.emergency.duress_cancel",
        actor=None,
        obj=emergency,
        detail={"code": emergency.code, "channel": channel[:20]},
    )


def _cancel(emergency: Emergency, person: ProtectedPerson, channel: str) -> None:
    now = clock.now()
    own_only = not emergency.alerts.filter(
        ~Q(source=EmergencySource.SOS) | ~Q(person=person)
    ).exists()
    emergency.priority = Priority.LOW if own_only else emergency.priority
    if own_only:
        emergency.state = EmergencyState.RESOLVED
        emergency.outcome = Outcome.CANCELLED_BY_PERSON
        emergency.resolved_at = now
        emergency.next_escalation_at = None
        emergency.ack_expires_at = None
    emergency.save()
    if own_only:
        escalation.cancel_pending(emergency)
    escalation.event(
        emergency,
        EmergencyEvent.Kind.CANCEL_REQUESTED,
        data={"channel": channel[:20], "duress": False, "cancelled": own_only},
    )
    audit.record(
        "refuge.alerts.emergency.cancelled_by_person",
        actor=None,
        obj=emergency,
        detail={"code": emergency.code, "channel": channel[:20], "resolved": own_only},
    )
