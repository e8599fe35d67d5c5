"""The emergency line of the reference scenario (steps 2-4 of shared/reference/scenario.md).

Called by `scenario.scenario_load()` inside its transaction; every part is idempotent on its own,
so a second `refuge demo` creates nothing and an older demo database gains what it lacks:

- FALCON's and BIRCH's check-in schedules (daily at 21:00 Europe/Moscow, 2 hours' grace) with the
  published demo PINs and duress PINs, and a personal check-in link for each;
- the on-call rota "Hotline" with the operator, and the default escalation policy (the on-call
  operator at once, the case's lawyer after 5 minutes, the coordinators after 10, the whole case
  team after 15), exactly what `refuge policy create-default` builds;
- an e-mail channel at example.org for every demo account (REFUGE_NOTIFIER defaults to "log" in
  demo mode, so nothing leaves the machine);
- step 3 replayed as a resolved emergency: BIRCH's call at 15:00, the operator paged at once, the
  lawyer's acknowledgement at 15:04 (from the board, before his own page was due), on the way at
  15:06, on site at 15:30; then step 4: both missed check-ins joined it at 23:00, and it was
  resolved as "missing".

The replay goes through the services (so it is encrypted, audited and shaped like a real one) at
load time; the story's times are then written onto the emergency, its events and notification.
The audit log keeps the real load time: it records when the data was entered.

The personal links are derived from the demo's secret key (var/secret_key), so `refuge demo` can
print the same URLs on every start although only their digests are stored. Demo mode only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _

from refuge.accounts.models import User
from refuge.alerts.management.commands.policy import DEFAULT_NAME, DEFAULT_STEPS
from refuge.alerts.models import (
    CheckinLink,
    CheckinSchedule,
    Emergency,
    EmergencyEvent,
    EmergencySource,
    EscalationPolicy,
    EscalationStep,
    Notification,
    NotificationAttempt,
    OnCallRota,
    Outcome,
    Priority,
    StaffChannel,
)
from refuge.alerts.services import checkins, emergencies, escalation, response
from refuge.alerts.services import setup as alert_setup
from refuge.alerts.services.checkin_links import link_path, link_person
from refuge.cases import selectors as case_selectors
from refuge.cases.models import Case, CaseType
from refuge.core import clock
from refuge.people.models import ProtectedPerson
from refuge.security import audit

ROTA_NAME = "Hotline"
CHECKIN_TIME = dt.time(21, 0)
CHECKIN_TIME_ZONE = "Europe/Moscow"
GRACE_MINUTES = 120
# Published in scenario.md ("Demo values that tests and checks rely on"); demo mode only.
PINS: dict[str, tuple[str, str]] = {"FALCON": ("2468", "1357"), "BIRCH": ("3690", "1470")}
CHANNEL_DOMAIN = "example.org"
HEARD = (
    "Screaming and men's voices in the background; BIRCH said 'they are here' and the line "
    "went dead after about 40 seconds."
)
LOCATION_HINT = "Probably the safe flat (address in the evacuation case)."
ON_SITE_NOTE = "Men gone, signs of a struggle: door forced, furniture overturned, a phone smashed."
RESOLUTION_NOTE = (
    "Both men missing since the call; missed check-ins joined at 23:00. Handed over to the legal "
    "case (missing-person claim)."
)


@dataclass(frozen=True)
class DemoLink:
    pseudonym: str
    url: str
    live: bool
    pin: str
    duress_pin: str


def setup_alerts(
    staff: dict[str, User], people: dict[str, ProtectedPerson], call_day: dt.date
) -> list[str]:
    """Create what is missing; return what was created (for the command's report)."""
    created: list[str] = []
    for pseudonym, person in people.items():
        if _schedule(person):
            created.append(_("check-in schedule and PINs of %(who)s") % {"who": pseudonym})
        if _link(person):
            created.append(_("check-in link of %(who)s") % {"who": pseudonym})
    if _rota(staff, call_day):
        created.append(_("on-call rota %(name)s") % {"name": ROTA_NAME})
    if _policy():
        created.append(_("escalation policy %(name)s") % {"name": DEFAULT_NAME})
    added = [name for name, user in staff.items() if _channel(name, user)]
    if added:
        created.append(_("e-mail channels of %(who)s") % {"who": ", ".join(added)})
    return created


def _schedule(person: ProtectedPerson) -> bool:
    if checkins.schedule_of(person) is not None:
        return False
    schedule = checkins.schedule_set(
        actor=None,
        person=person,
        kind=CheckinSchedule.Kind.DAILY,
        daily_time=CHECKIN_TIME,
        time_zone=CHECKIN_TIME_ZONE,
        grace_minutes=GRACE_MINUTES,
    )
    pin, duress_pin = PINS[person.pseudonym]
    checkins.pins_set(actor=None, schedule=schedule, pin=pin, duress_pin=duress_pin)
    return True


def link_token(pseudonym: str) -> str:
    """The demo's personal link token of a person: stable for one demo's secret key."""
    return salted_hmac("refuge.demo.checkin-link", pseudonym, algorithm="sha256").hexdigest()


def _link(person: ProtectedPerson) -> bool:
    """Like services.checkin_links.link_issue, but with the derived token (see the docstring).
    A link the staff revoked or re-issued is left alone."""
    if CheckinLink.objects.filter(person=person).exists():
        return False
    digest = hashlib.sha256(link_token(person.pseudonym).encode()).hexdigest()
    link = CheckinLink.objects.create(person=person, token_digest=digest)
    audit.record(
        "refuge.alerts.link.issued",
        actor=None,
        obj=link,
        detail={"person": str(person.pk), "revoked": 0, "source": "demo"},
    )
    return True


def demo_links(base_url: str) -> list[DemoLink]:
    """The demo's personal check-in pages and their PINs, for the banner; `base_url` is where
    the demo serves (REFUGE_PUBLIC_BASE_URL, or the address of `refuge demo --port`)."""
    links = []
    for pseudonym, (pin, duress_pin) in PINS.items():
        token = link_token(pseudonym)
        person = link_person(token)
        links.append(
            DemoLink(
                pseudonym=pseudonym,
                url=base_url + link_path(token),
                live=person is not None and person.pseudonym == pseudonym,
                pin=pin,
                duress_pin=duress_pin,
            )
        )
    return links


def _rota(staff: dict[str, User], call_day: dt.date) -> bool:
    if OnCallRota.objects.filter(name=ROTA_NAME).exists():
        return False
    starts_on = _aware(call_day - dt.timedelta(days=28), 9)
    rota = alert_setup.rota_create(actor=None, name=ROTA_NAME, starts_on=starts_on, shift_days=7)
    alert_setup.rota_member_add(actor=None, rota=rota, user=staff["operator"])
    return True


def _policy() -> bool:
    """`refuge policy create-default --rota Hotline`, when there is no default policy yet."""
    if EscalationPolicy.objects.filter(is_default=True).exists():
        return False
    rota = OnCallRota.objects.get(name=ROTA_NAME)
    policy = alert_setup.policy_create(actor=None, name=DEFAULT_NAME, is_default=True)
    for target, delay in DEFAULT_STEPS:
        alert_setup.step_add(
            actor=None,
            policy=policy,
            target=target,
            delay_minutes=delay,
            rota=rota if target == EscalationStep.Target.ON_CALL else None,
        )
    return True


def _channel(username: str, user: User) -> bool:
    if StaffChannel.objects.filter(user=user).exists():
        return False
    alert_setup.staff_channel_add(
        actor=None,
        user=user,
        kind=StaffChannel.Kind.EMAIL,
        target=f"{username}@{CHANNEL_DOMAIN}",
    )
    return True


def _aware(day: dt.date, hour: int, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime.combine(
        day, dt.time(hour, minute, second), tzinfo=timezone.get_current_timezone()
    )


# --- step 3 and 4 replayed -----------------------------------------------------------------------


def replay_call(staff: dict[str, User], people: dict[str, ProtectedPerson], day: dt.date) -> bool:
    """The emergency of step 3 (and the joins of step 4), once. False when it exists already."""
    birch, falcon = people["BIRCH"], people["FALCON"]
    if Emergency.objects.filter(caller=birch, source=EmergencySource.CALL).exists():
        return False
    case = (
        case_selectors.case_list(actor=staff["coordinator"])
        .filter(case_type=CaseType.EMERGENCY, people=birch)
        .first()
    )
    if case is None:
        return False  # the story's cases were removed: nothing to replay against
    _Replay(staff, day).run(falcon, birch, case)
    return True


class _Replay:
    def __init__(self, staff: dict[str, User], day: dt.date) -> None:
        self.staff = staff
        self.day = day
        # Everything the services write during the replay is stamped later than this.
        self.cutoff = clock.now() - dt.timedelta(seconds=1)

    def at(self, hour: int, minute: int, second: int = 0) -> dt.datetime:
        return _aware(self.day, hour, minute, second)

    def stamp(self, emergency: Emergency, when: dt.datetime) -> None:
        """Give the events just written the story's time."""
        EmergencyEvent.objects.filter(emergency=emergency, at__gt=self.cutoff).update(at=when)

    def run(self, falcon: ProtectedPerson, birch: ProtectedPerson, case: Case) -> None:
        lawyer, coordinator = self.staff["lawyer"], self.staff["coordinator"]
        emergency = emergencies.emergency_open_call(
            actor=self.staff["operator"],
            caller=birch,
            heard=HEARD,
            location_hint=LOCATION_HINT,
            people=[falcon, birch],
            cases=[case],
            team=case.team,
            reported_at=self.at(15, 0),
        )
        # Opening it fired the first step: the on-call operator is paged at once.
        self.stamp(emergency, self.at(15, 0, 50))
        self._delivered(emergency, self.at(15, 0, 51))
        response.emergency_acknowledge(actor=lawyer, emergency=emergency)
        self.stamp(emergency, self.at(15, 4))
        response.emergency_en_route(actor=lawyer, emergency=emergency)
        self.stamp(emergency, self.at(15, 6))
        response.emergency_on_site(actor=lawyer, emergency=emergency)
        self.stamp(emergency, self.at(15, 30))
        response.emergency_add_note(actor=lawyer, emergency=emergency, text=ON_SITE_NOTE)
        self.stamp(emergency, self.at(15, 32))
        # Step 4: 21:00 + 2 hours' grace, no check-in from either man: both alerts join.
        for second, person in enumerate((falcon, birch), start=1):
            emergencies.raise_alert(
                source=EmergencySource.MISSED_CHECKIN,
                people=[person],
                priority=Priority.HIGH,
                reported_at=self.at(23, 0),
                dedupe_key=f"demo-missed:{person.pk}:{self.day.isoformat()}",
            )
            self.stamp(emergency, self.at(23, 0, second))
        response.emergency_resolve(
            actor=coordinator, emergency=emergency, outcome=Outcome.MISSING, note=RESOLUTION_NOTE
        )
        self.stamp(emergency, self.at(23, 30))
        Emergency.objects.filter(pk=emergency.pk).update(
            opened_at=self.at(15, 0, 50),
            first_notified_at=self.at(15, 0, 51),
            acknowledged_at=self.at(15, 4),
            en_route_at=self.at(15, 6),
            on_site_at=self.at(15, 30),
            resolved_at=self.at(23, 30),
            created_at=self.at(15, 0, 50),
            updated_at=self.at(23, 30),
        )

    def _delivered(self, emergency: Emergency, when: dt.datetime) -> None:
        """What `delivery.deliver_due` records when the channel accepts the message; the demo
        loader sends nothing itself (the worker would, through REFUGE_NOTIFIER)."""
        for notification in Notification.objects.filter(emergency=emergency).select_related(
            "channel"
        ):
            kind = notification.channel.kind if notification.channel else ""
            NotificationAttempt.objects.create(
                notification=notification, channel_kind=kind, at=when, ok=True
            )
            Notification.objects.filter(pk=notification.pk).update(
                state=Notification.State.SENT,
                sent_at=when,
                created_at=when - dt.timedelta(seconds=2),
                next_attempt_at=when - dt.timedelta(seconds=2),
            )
            escalation.event(
                emergency,
                EmergencyEvent.Kind.NOTIFICATION_SENT,
                at=when,
                data={
                    "notification": str(notification.pk),
                    "recipient": str(notification.recipient_id),
                    "channel": kind,
                    "step": notification.step,
                    "round": notification.round,
                },
            )
