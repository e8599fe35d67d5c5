"""Reads that explain an emergency's timeline: who was paged, on which channel, when, and
whether it was delivered; how an acknowledgement arrived; which time was corrected, from what
to what, by whom and why. Every fact is translated (alerts.display); the web page and the API
show the same facts.

The caller has fetched the emergency through access (selectors_emergencies.emergency_get);
notifications and their attempts carry no rule of their own, they follow the emergency.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from refuge.accounts.models import User
from refuge.alerts import display
from refuge.alerts import selectors_emergencies as selectors
from refuge.alerts.models import (
    Emergency,
    EmergencyEvent,
    EmergencySource,
    EscalationStep,
    Notification,
    Outcome,
    Priority,
)
from refuge.alerts.services.corrections import CORRECTABLE
from refuge.security.sealing import SealedError

# An OPENED event also shows the call or SOS time when the two are this far apart (a call
# entered afterwards, a missed check-in found late).
SHOW_REPORTED_AFTER = dt.timedelta(minutes=1)
NOTE_FIELDS = {
    "heard": gettext_lazy("What was heard"),
    "location_hint": gettext_lazy("Location hint"),
    "resolution_note": gettext_lazy("Resolution note"),
}
LINE_TARGET = gettext_lazy("The emergency line (operators and coordinators)")
NOTIFICATION_KINDS = {
    EmergencyEvent.Kind.NOTIFICATION_SENT,
    EmergencyEvent.Kind.NOTIFICATION_FAILED,
}


@dataclass(frozen=True)
class Page:
    """One notification: who was paged, how, and what became of it."""

    notification_id: Any
    recipient_id: Any
    recipient_username: str
    recipient: str
    step: int  # 1-based, as the policy page numbers its steps
    round: int  # 1-based
    channel_kind: str
    channel: str
    state: str
    state_label: str
    attempts: int
    paged_at: dt.datetime
    sent_at: dt.datetime | None
    next_attempt_at: dt.datetime | None  # while it is still being tried
    last_attempt_at: dt.datetime | None


def emergency_pages(*, emergency: Emergency) -> list[Page]:
    """Everyone the emergency paged, in the order they were paged (two queries)."""
    rows = (
        Notification.objects.filter(emergency=emergency)
        .select_related("recipient", "channel")
        .prefetch_related("attempt_log")
        .order_by("created_at", "round", "step", "recipient__username")
    )
    pages = []
    for notification in rows:
        attempts = list(notification.attempt_log.all())
        last = attempts[-1] if attempts else None
        kind = last.channel_kind if last else ""
        if notification.channel is not None and notification.state == Notification.State.PENDING:
            kind = notification.channel.kind  # the channel the next try goes to
        pending = notification.state == Notification.State.PENDING
        pages.append(
            Page(
                notification_id=notification.pk,
                recipient_id=notification.recipient_id,
                recipient_username=notification.recipient.get_username(),
                recipient=display.staff_name(notification.recipient),
                step=notification.step + 1,
                round=notification.round + 1,
                channel_kind=kind,
                channel=display.channel_label(kind),
                state=notification.state,
                state_label=display.delivery_label(notification.state, notification.attempts),
                attempts=notification.attempts,
                paged_at=notification.created_at,
                sent_at=notification.sent_at,
                next_attempt_at=notification.next_attempt_at if pending else None,
                last_attempt_at=last.at if last else None,
            )
        )
    return pages


@dataclass(frozen=True)
class TimelineRow:
    event: EmergencyEvent
    facts: list[tuple[str, str]]  # (label, value), translated, in reading order
    extra: dict[str, Any] = field(default_factory=dict)  # the same facts for machines (API)
    note: str | None = None  # a note's text, or a time correction's reason
    sealed: bool = False  # the text exists but waits for the unseal


def emergency_timeline(*, actor: Any, emergency: Emergency) -> list[TimelineRow]:
    """Every event of the emergency with its facts explained (four queries, whatever the
    number of events)."""
    events = list(selectors.emergency_events(actor=actor, emergency=emergency))
    pages = {str(page.notification_id): page for page in emergency_pages(emergency=emergency)}
    names = _names(events)
    rows = []
    for event in events:
        event.emergency = emergency  # an old note is under the emergency's key, loaded already
        explain = _Explain(event, emergency, pages, names)
        try:
            note, sealed = selectors.event_note_text(event=event), False
        except SealedError:  # alerts work while sealed; the text waits for the unseal
            note, sealed = None, True
        rows.append(TimelineRow(event, explain.facts, explain.extra, note, sealed))
    return rows


def _names(events: Iterable[EmergencyEvent]) -> dict[str, str]:
    """Display names of the staff the events name by id (recipients of a step)."""
    ids = {str(pk) for e in events for pk in (e.data or {}).get("recipients") or []}
    users = User.objects.filter(pk__in=ids) if ids else User.objects.none()
    return {str(user.pk): display.staff_name(user) for user in users}


def _label(choices: Any, value: Any) -> str:
    return str(dict(choices).get(value, _("unknown")))


def parse_time(value: Any) -> dt.datetime | None:
    """A time stored in an event's facts (ISO 8601), or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_datetime(value)
    except ValueError:
        return None


def _time(value: Any) -> str:
    parsed = parse_time(value)
    return display.shown_time(parsed) if parsed else "—"


class _Explain:
    """The facts of one event, for people (`facts`) and for machines (`extra`)."""

    def __init__(
        self,
        event: EmergencyEvent,
        emergency: Emergency,
        pages: dict[str, Page],
        names: dict[str, str],
    ) -> None:
        self.facts: list[tuple[str, str]] = []
        self.extra: dict[str, Any] = {}
        data = event.data or {}
        self._common(data)
        if event.kind == EmergencyEvent.Kind.ESCALATED:
            self._escalated(data, names)
        elif event.kind in NOTIFICATION_KINDS:
            self._notification(event, data, pages)
        elif event.kind == EmergencyEvent.Kind.CANCEL_REQUESTED and data.get("channel"):
            self.add(gettext_lazy("Channel"), display.intake_channel_label(data["channel"]))
        elif event.kind == EmergencyEvent.Kind.CHECKED_IN_LATE:
            self._checked_in_late(data)
        elif event.kind == EmergencyEvent.Kind.TIME_CORRECTED:
            self._corrected(data)
        elif event.kind == EmergencyEvent.Kind.OPENED:
            self._opened(event, emergency)
        if event.kind == EmergencyEvent.Kind.NOTE and data.get("field") in NOTE_FIELDS:
            self.add(gettext_lazy("Adds to"), str(NOTE_FIELDS[data["field"]]))

    def _common(self, data: dict[str, Any]) -> None:
        """The facts any kind of event may carry."""
        simple: list[tuple[str, Any, Callable[[Any], str]]] = [
            ("source", gettext_lazy("Source"), lambda v: _label(EmergencySource.choices, v)),
            ("priority", gettext_lazy("Priority"), lambda v: _label(Priority.choices, v)),
            ("step", gettext_lazy("Step"), lambda v: str(int(v) + 1)),
            ("target", gettext_lazy("Target"), self._target),
            ("outcome", gettext_lazy("Outcome"), lambda v: _label(Outcome.choices, v)),
            ("people", gettext_lazy("People"), lambda v: ", ".join(str(p) for p in v)),
            ("via", gettext_lazy("Via"), lambda v: display.via_label(str(v))),
            ("late", gettext_lazy("Late"), lambda v: _("yes") if v else _("no")),
        ]
        for key, label, shown in simple:
            value = data.get(key)
            if value is not False and value not in (None, "", []):  # step 0 is the first step
                self.add(label, shown(value))
        if data.get("round"):
            self.add(gettext_lazy("Round"), str(int(data["round"]) + 1))

    def add(self, label: Any, value: str, **extra: Any) -> None:
        self.facts.append((str(label), value))
        self.extra.update(extra)

    def _target(self, value: Any) -> str:
        if value == "line":
            return str(LINE_TARGET)
        return _label(EscalationStep.Target.choices, value)

    def _checked_in_late(self, data: dict[str, Any]) -> None:
        if data.get("channel"):
            self.add(gettext_lazy("Channel"), display.intake_channel_label(data["channel"]))
        self.add(gettext_lazy("Deadline missed"), _time(data.get("deadline")))
        self.add(
            gettext_lazy("Caution"),
            _("a right PIN was entered; it does not show that the person is safe"),
        )

    def _escalated(self, data: dict[str, Any], names: dict[str, str]) -> None:
        recipients = [
            names.get(str(pk), _("a former staff member")) for pk in data.get("recipients") or []
        ]
        self.add(
            gettext_lazy("Paged"),
            ", ".join(recipients) or _("nobody"),
            recipient_names=recipients,
        )
        if data.get("fallback"):
            self.add(
                gettext_lazy("Paged instead"),
                _("the line: the step's target resolved to nobody"),
            )

    def _notification(
        self, event: EmergencyEvent, data: dict[str, Any], pages: dict[str, Page]
    ) -> None:
        page = pages.get(str(data.get("notification", "")))
        kind = str(data.get("channel") or "")
        recipient = page.recipient if page else _("a former staff member")
        self.add(pgettext_lazy("notification", "To"), recipient, recipient_name=recipient)
        self.add(
            gettext_lazy("Channel"),
            display.channel_label(kind),
            channel_label=display.channel_label(kind),
        )
        if event.kind == EmergencyEvent.Kind.NOTIFICATION_SENT:
            self.add(gettext_lazy("Delivery"), _("sent"), delivery="sent")
            return
        attempt = int(data.get("attempt") or 0)
        self.add(
            gettext_lazy("Delivery"),
            _("failed (attempt %(n)d)") % {"n": attempt},
            delivery="failed",
            attempt=attempt,
        )
        if page is not None and page.state == Notification.State.PENDING:
            self.add(
                gettext_lazy("Next try"),
                _time(data.get("next_attempt_at")),
                next_attempt_at=data.get("next_attempt_at"),
            )
        elif page is not None:
            self.add(gettext_lazy("Then"), page.state_label, then=page.state)

    def _corrected(self, data: dict[str, Any]) -> None:
        name = str(CORRECTABLE.get(data.get("field", ""), _("unknown")))
        self.add(gettext_lazy("Time"), name, field_label=name)
        self.add(pgettext_lazy("time correction", "From"), _time(data.get("from")))
        self.add(pgettext_lazy("time correction", "To"), _time(data.get("to")))

    def _opened(self, event: EmergencyEvent, emergency: Emergency) -> None:
        if abs(event.at - emergency.reported_at) >= SHOW_REPORTED_AFTER:
            self.add(
                gettext_lazy("Call or SOS at"),
                display.shown_time(emergency.reported_at),
                reported_at=emergency.reported_at.isoformat(),
            )
