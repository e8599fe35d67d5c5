"""Calls logged without paging, and turning one into an emergency.

A silent call, a probing question from an unknown number, a caller who hangs up: the operator
writes down what was heard without waking anyone (`call_log`). If it turns out to matter, one
click turns it into an emergency (`call_escalate`), which goes through the same door as every
alert (`emergencies.raise_alert`): it opens an emergency and pages at once, or joins the one
already open for the same people. The emergency keeps the call's time as its call time and the
call's text as what was heard.

While sealed, a call can still be logged (its text gets keys of its own, wrapped for the intake
key) and turned into an emergency, but its text cannot be read, so it is not copied: the
emergency's page links to the logged call, whose text is readable after the unseal.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from refuge.accounts.models import User
from refuge.alerts.access import NO_EMERGENCY_ROLES
from refuge.alerts.models import CallRecord, Emergency, EmergencySource, Priority
from refuge.alerts.services import call_time, emergencies, notes
from refuge.core import clock
from refuge.core.errors import DomainError, NotFoundError
from refuge.core.ids import random_code
from refuge.people import validation
from refuge.people.models import ProtectedPerson
from refuge.security import access, audit

MAX_TEXT = emergencies.MAX_TEXT
_CODE_ATTEMPTS = 40


def call_log(
    *,
    actor: User,
    caller: ProtectedPerson | None,
    heard: str,
    location_hint: str = "",
    people: Sequence[ProtectedPerson] = (),
    received_at: dt.datetime | None = None,
) -> CallRecord:
    """Write a call down without paging anyone. `caller` and `people` must have been fetched
    through access by the interface; they are checked again here."""
    if actor.role in NO_EMERGENCY_ROLES:
        raise DomainError(_("Your role cannot log calls."))
    errors: dict[str, list[str]] = {}
    received_at = call_time.call_time(received_at, field="received_at", errors=errors)
    heard = validation.clean_text(heard, limit=MAX_TEXT, field="heard", errors=errors)
    if not heard and "heard" not in errors:
        errors["heard"] = [_("Write down what was heard: that is what a logged call is for.")]
    location_hint = validation.clean_text(
        location_hint, limit=MAX_TEXT, field="location_hint", errors=errors
    )
    concerned = emergencies.visible_people(actor, people, errors=errors)
    emergencies.visible_people(actor, [caller] if caller else [], errors=errors)
    if errors:
        raise DomainError(_("Please correct the errors below."), field_errors=errors)
    with transaction.atomic():
        call = _new_call(
            actor=actor,
            caller=caller,
            heard=heard,
            location_hint=location_hint,
            received_at=received_at,
        )
        call.people.add(*concerned)
        audit.record(
            "refuge.alerts.call.logged",
            actor=actor,
            obj=call,
            detail={
                "code": call.code,
                "received_at": call.received_at.isoformat(),
                "caller": str(caller.pk) if caller else None,
                "people": [str(p.pk) for p in concerned],
            },
        )
    return call


def _new_call(
    *,
    actor: User,
    caller: ProtectedPerson | None,
    heard: str,
    location_hint: str,
    received_at: dt.datetime,
) -> CallRecord:
    for attempt in range(_CODE_ATTEMPTS):
        call = CallRecord(
            code=random_code("C", length=4 + attempt // 8),
            received_at=received_at,
            logged_at=clock.now(),
            logged_by=actor,
            caller=caller,
        )
        call.heard = heard
        call.location_hint = location_hint or None
        try:
            with transaction.atomic():
                call.save(force_insert=True)
        except IntegrityError:
            continue  # code collision: draw again
        return call
    raise DomainError(_("Could not allocate a call code; try again."))  # pragma: no cover


def call_escalate(*, actor: User, call: CallRecord) -> Emergency:
    """Turn a logged call into an emergency: it pages as usual (or joins the emergency already
    open for the same people), with the call's time and text. A call is turned once; a second
    click is refused with the emergency's code."""
    with transaction.atomic():
        if not access.scope(actor, CallRecord.objects.filter(pk=call.pk)).exists():
            raise NotFoundError
        # No select_related: PostgreSQL cannot lock the nullable side of an outer join.
        locked = CallRecord.objects.select_for_update().get(pk=call.pk)
        if locked.emergency is not None:
            raise DomainError(
                _("This call was turned into emergency %(code)s already.")
                % {"code": locked.emergency.code}
            )
        readable = notes.keys_open(locked, "data_key", "location_key")
        people = list(locked.people.all())
        emergency = emergencies.raise_alert(
            source=EmergencySource.CALL,
            people=[*people, *([locked.caller] if locked.caller else [])],
            priority=Priority.HIGH,
            reported_at=locked.received_at,
            dedupe_key=f"call-record:{locked.pk}",
            actor=actor,
            caller=locked.caller,
            heard=locked.heard if readable else None,
            location_hint=locked.location_hint if readable else None,
        )
        locked.emergency = emergency
        locked.escalated_at = clock.now()
        locked.escalated_by = actor
        locked.save(update_fields=["emergency", "escalated_at", "escalated_by", "updated_at"])
        audit.record(
            "refuge.alerts.call.escalated",
            actor=actor,
            obj=locked,
            detail={"code": locked.code, "emergency": emergency.code, "text_copied": readable},
        )
        return emergency
