"""The reference scenario (shared/reference/scenario.md) as demo data. All people are fictional.

`scenario_load()` is idempotent: staff accounts and the team are created when missing, and the
story (people, relatives, cases) is written once, in one transaction, when FALCON does not exist
yet. Everything goes through the domain services, so the demo data is encrypted, audited and
shaped exactly like data entered through the staff pages.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_otp.oath import TOTP

from refuge.accounts import factors
from refuge.accounts.models import Role, Team, TeamMembership, User
from refuge.cases import services as cases
from refuge.cases.models import Case, CaseStatus, CaseType, TimelineEntry
from refuge.core import clock
from refuge.demo import scenario_alerts, scenario_contacts, scenario_evidence
from refuge.people import services as people
from refuge.people.models import Language, ProtectedPerson, Relative, RiskLevel
from refuge.security import audit

DEMO_PASSWORD = "refuge-demo"  # noqa: S105 - published in scenario.md; demo mode only
STAFF: tuple[tuple[str, Role], ...] = (
    ("operator", Role.OPERATOR),
    ("caseworker", Role.CASEWORKER),
    ("lawyer", Role.LAWYER),
    ("analyst", Role.ANALYST),
    ("coordinator", Role.COORDINATOR),
    ("admin", Role.ADMIN),
)
TEAM_NAME = "Nizhny Novgorod team"
CALL_DAYS_AGO = 2

FALCON = "FALCON"
FALCON_NAME = "Rustam Zaurbekovich Testaev"
FALCON_PHONE = "+7 900 555-01-23"
BIRCH = "BIRCH"
BIRCH_NAME = "Islam Ruslanovich Demoev"
BIRCH_PHONE = "+7 900 555-04-56"
FLAT_ADDRESS = "Nizhny Novgorod, ul. Testovaya 12, kv. 34"
MOTHER_NAME = "Zarema Testaeva"
MOTHER_PHONE = "+7 928 555-07-81"
BROTHER_NAME = "Adam Zaurbekovich Testaev"
BROTHER_PHONE = "+7 928 555-07-82"
RELATIVES_LOCATION = "Chechen Republic, selo Primernoye (fictional)"


class DemoModeRequiredError(RuntimeError):
    """Demo data (and its published password) must never land in a real instance."""


@dataclass
class LoadResult:
    story_created: bool
    users_created: list[str] = field(default_factory=list)
    cases: list[str] = field(default_factory=list)
    alerts_created: list[str] = field(default_factory=list)
    emergency_replayed: bool = False


def scenario_load() -> LoadResult:
    if not settings.DEMO_MODE:
        raise DemoModeRequiredError(
            "The demo scenario is only loaded in demo mode (REFUGE_DEMO=1)."
        )
    with transaction.atomic():
        result = LoadResult(story_created=False)
        staff = _staff(result)
        team = _team(staff)
        if not ProtectedPerson.objects.filter(pseudonym=FALCON).exists():
            _Story(staff, team).tell(result)
            result.story_created = True
        _emergency_line(staff, result)
        _evidence(staff)
        return result


def _evidence(staff: dict[str, User]) -> None:
    """Step 6: the apology video on FALCON's documentation case (scenario_evidence), once."""
    case = (
        Case.objects.filter(case_type=CaseType.DOCUMENTATION, people__pseudonym=FALCON)
        .order_by("created_at")
        .first()
    )
    if case is not None:
        scenario_evidence.attach_apology_video(staff, case)


def _emergency_line(staff: dict[str, User], result: LoadResult) -> None:
    """Steps 2-4 on the emergency line (scenario_alerts), each part created once."""
    people = {
        p.pseudonym: p
        for p in ProtectedPerson.objects.filter(pseudonym__in=[FALCON, BIRCH]).order_by("pseudonym")
    }
    if set(people) != {FALCON, BIRCH}:
        return
    call_day = clock.today() - dt.timedelta(days=CALL_DAYS_AGO)
    result.alerts_created = scenario_alerts.setup_alerts(staff, people, call_day)
    result.emergency_replayed = scenario_alerts.replay_call(staff, people, call_day)


def _staff(result: LoadResult) -> dict[str, User]:
    staff: dict[str, User] = {}
    for username, role in STAFF:
        user = User.objects.filter(username=username).first()
        if user is None:
            user = User(username=username, role=role)
            user.set_password(DEMO_PASSWORD)
            user.save()
            audit.record(
                "refuge.accounts.user.created",
                actor=None,
                obj=user,
                detail={"role": role.value, "source": "demo"},
            )
            result.users_created.append(username)
        # Each demo account signs in with a fixed TOTP seed printed by `refuge demo` (refused
        # outside demo mode: accounts.factors).
        factors.demo_totp_device(user=user)
        staff[username] = user
    return staff


def totp_lines() -> list[str]:
    """The demo accounts' authenticator seeds (otpauth URIs) and their current codes."""
    lines = [
        (
            "Second factor (DEMO ONLY, published): add a URI to an authenticator app, or type "
            "the current code shown here (it changes every 30 seconds):"
        )
    ]
    for username, _role in STAFF:
        user = User.objects.filter(username=username).first()
        if user is None:
            continue
        device = factors.demo_totp_device(user=user)
        code = TOTP(device.bin_key, device.step, device.t0, device.digits).token()
        lines.append(f"  {username}: code {code:06d}  {device.config_url}")
    lines.append(
        "Demo mode relaxes the passkey requirement of coordinators, case workers and lawyers "
        "to these codes (a banner says so); production requires passkeys."
    )
    return lines


def _team(staff: dict[str, User]) -> Team:
    team = Team.objects.filter(name=TEAM_NAME).first()
    if team is None:
        team = Team.objects.create(name=TEAM_NAME)
        audit.record(
            "refuge.accounts.team.created", actor=None, obj=team, detail={"source": "demo"}
        )
    for username, lead in (("caseworker", True), ("lawyer", False)):
        membership, created = TeamMembership.objects.get_or_create(
            team=team, user=staff[username], defaults={"is_lead": lead}
        )
        if created:
            audit.record(
                "refuge.accounts.membership.added",
                actor=None,
                obj=membership,
                detail={"team": str(team.pk), "user": str(staff[username].pk), "is_lead": lead},
            )
    return team


def _aware(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=timezone.get_current_timezone())


def _born(today: dt.date, *, years: int, days_before: int) -> dt.date:
    """A birth date that makes someone `years` old today, with a birthday `days_before` ago."""
    past = today - dt.timedelta(days=days_before)
    try:
        return past.replace(year=past.year - years)
    except ValueError:  # 29 February
        return past.replace(year=past.year - years, day=28)


class _Story:
    """FALCON and BIRCH, from the first detention to the lawyer's claim."""

    def __init__(self, staff: dict[str, User], team: Team) -> None:
        self.staff = staff
        self.team = team
        self.today = clock.today()
        # The call happened two days ago, so the lawyer's follow-ups are in the past too.
        self.call_day = self.today - dt.timedelta(days=CALL_DAYS_AGO)
        self.detention_day = self.call_day - dt.timedelta(days=240)
        self.evacuation_day = self.detention_day + dt.timedelta(days=35)

    def tell(self, result: LoadResult) -> None:
        falcon, birch = self.people()
        both = [falcon, birch]
        result.cases = [
            self.evacuation(both).code,
            self.emergency(both).code,
            self.legal(both).code,
            self.documentation(both).code,
        ]

    def people(self) -> tuple[ProtectedPerson, ProtectedPerson]:
        coordinator = self.staff["coordinator"]
        falcon = people.person_create(
            actor=coordinator,
            pseudonym=FALCON,
            risk_level=RiskLevel.CRITICAL,
            languages=[Language.RU, Language.CE],
            team=self.team,
            identity=people.IdentityInput(
                legal_name=FALCON_NAME,
                date_of_birth=_born(self.today, years=22, days_before=200),
                phones=FALCON_PHONE,
                address=FLAT_ADDRESS,
                notes="Moderated an opposition Telegram channel. Check-in daily at 21:00.",
                provided={"legal_name", "date_of_birth", "phones", "address", "notes"},
            ),
        )
        birch = people.person_create(
            actor=coordinator,
            pseudonym=BIRCH,
            risk_level=RiskLevel.CRITICAL,
            languages=[Language.RU, Language.CE],
            team=self.team,
            identity=people.IdentityInput(
                legal_name=BIRCH_NAME,
                date_of_birth=_born(self.today, years=17, days_before=100),
                phones=BIRCH_PHONE,
                address=FLAT_ADDRESS,
                notes="A minor: stricter access rules apply. Check-in daily at 21:00.",
                provided={"legal_name", "date_of_birth", "phones", "address", "notes"},
            ),
        )
        for relation, name, phone in (
            (Relative.Relation.MOTHER, MOTHER_NAME, MOTHER_PHONE),
            (Relative.Relation.SIBLING, BROTHER_NAME, BROTHER_PHONE),
        ):
            relative = people.relative_add(
                actor=coordinator,
                person=falcon,
                relation=relation,
                risk_level=RiskLevel.HIGH,
                name=name,
                phones=phone,
                location=RELATIVES_LOCATION,
                notes="At risk of collective punishment (“shared responsibility”). "
                "Contact only through the case worker.",
            )
            if relation == Relative.Relation.MOTHER:
                scenario_contacts.mothers_contacts(
                    caseworker=self.staff["caseworker"],
                    mother=relative,
                    evacuation=_aware(self.evacuation_day, 12),
                    call=_aware(self.call_day, 15),
                )
        return falcon, birch

    def _open(
        self, opener: str, case_type: CaseType, both: list[ProtectedPerson], summary: str
    ) -> Case:
        return cases.case_open(
            actor=self.staff[opener],
            case_type=case_type,
            team=self.team,
            people=both,
            risk_level=RiskLevel.CRITICAL,
            summary=summary,
        )

    def _note(
        self, case: Case, author: str, when: dt.datetime, text: str, *, call: bool = False
    ) -> None:
        kind = TimelineEntry.Kind.CALL if call else TimelineEntry.Kind.NOTE
        cases.timeline_add(
            actor=self.staff[author], case=case, kind=kind, text=text, occurred_at=when
        )

    def _activate(self, case: Case, author: str, verification: str, active: str) -> None:
        actor = self.staff[author]
        cases.case_transition(
            actor=actor, case=case, to_status=CaseStatus.VERIFICATION, note=verification
        )
        cases.case_transition(actor=actor, case=case, to_status=CaseStatus.ACTIVE, note=active)

    def evacuation(self, both: list[ProtectedPerson]) -> Case:
        # The coordinator takes them on (until then only the team they were recorded for saw them).
        case = self._open(
            "coordinator",
            CaseType.EVACUATION,
            both,
            "FALCON and BIRCH escaped after their detention in Chechnya. Evacuated and relocated "
            "to the network's safe flat in Nizhny Novgorod.",
        )
        self._note(
            case,
            "caseworker",
            _aware(self.evacuation_day - dt.timedelta(days=5), 11),
            "First contact through a trusted intermediary: both are hiding with acquaintances "
            "in Chechnya after their escape and ask to be taken out.",
        )
        self._note(
            case,
            "caseworker",
            _aware(self.evacuation_day, 4, 30),
            "Evacuated by car with a network driver at night; no checkpoint stops.",
        )
        self._note(
            case,
            "caseworker",
            _aware(self.evacuation_day + dt.timedelta(days=2), 18),
            "Relocated to the safe flat in Nizhny Novgorod. Daily check-in at 21:00 with a "
            "2-hour grace period agreed; normal and duress PINs set with each of them.",
        )
        self._activate(
            case,
            "caseworker",
            "Identities being verified with two independent sources.",
            "Identities verified; relocation approved by the coordinator.",
        )
        return case

    def emergency(self, both: list[ProtectedPerson]) -> Case:
        # The operator who took the call routes the emergency to the team that must respond.
        case = self._open(
            "operator",
            CaseType.EMERGENCY,
            both,
            "BIRCH called the emergency line at 15:00 with screaming in the background. Lawyer on "
            "site 30 minutes later: both men gone, signs of a struggle.",
        )
        day = self.call_day
        self._note(
            case,
            "operator",
            _aware(day, 15),
            "BIRCH called from the safe flat. Screaming and men's voices in the background; the "
            "line went dead after about 40 seconds. Emergency raised for both men.",
            call=True,
        )
        self._note(
            case,
            "coordinator",
            _aware(day, 15, 4),
            "Alert escalated to the on-call lawyer, who acknowledged it at 15:04.",
        )
        self._note(
            case,
            "lawyer",
            _aware(day, 15, 30),
            "On site at the flat 30 minutes after the call. Nobody there; the door was forced, "
            "furniture overturned, a phone smashed on the floor: signs of a struggle.",
        )
        self._note(
            case,
            "coordinator",
            _aware(day, 23, 5),
            "Neither man checked in by 21:00 plus the 2-hour grace period; the missed check-ins "
            "joined this emergency.",
        )
        self._activate(
            case,
            "coordinator",
            "Call confirmed by the lawyer on site.",
            "Emergency response under way; legal case opened.",
        )
        return case

    def legal(self, both: list[ProtectedPerson]) -> Case:
        case = self._open(
            "lawyer",
            CaseType.LEGAL,
            both,
            "Missing-person claim with the local police; custody transfer to Chechnya; counsel "
            "denied at the destination.",
        )
        day = self.call_day
        self._note(
            case,
            "lawyer",
            _aware(day, 19),
            "Filed a missing-person claim with the district police in Nizhny Novgorod. No "
            "reference number given yet.",
        )
        self._note(
            case,
            "lawyer",
            _aware(day + dt.timedelta(days=1), 10),
            "Learned that the local police handed both men to Chechen police, who took them by "
            "car to Chechnya (custody transfer between two authorities).",
        )
        self._note(
            case,
            "lawyer",
            _aware(day + dt.timedelta(days=1), 21),
            "Followed to Chechnya. The police there refused any information and denied the men "
            "access to counsel.",
        )
        cases.task_create(
            actor=self.staff["lawyer"],
            case=case,
            title="Chase the police for the claim's reference number",
            due_date=self.today + dt.timedelta(days=3),
            assignee=self.staff["lawyer"],
        )
        self._activate(
            case, "lawyer", "Claim filed; awaiting reference.", "Legal response under way."
        )
        return case

    def documentation(self, both: list[ProtectedPerson]) -> Case:
        case = self._open(
            "coordinator",
            CaseType.DOCUMENTATION,
            both,
            "First detention: secret detention in Chechnya, torture, and forced 'apology "
            "videos' recorded with nine other teenagers.",
        )
        day = self.detention_day
        self._note(
            case,
            "caseworker",
            _aware(day, 9),
            "Detained for moderating an opposition Telegram channel; held without any record "
            "(secret detention).",
        )
        self._note(
            case,
            "caseworker",
            _aware(day + dt.timedelta(days=3), 12),
            "Testimony: beaten and given electric shocks during interrogations (torture).",
        )
        self._note(
            case,
            "caseworker",
            _aware(day + dt.timedelta(days=6), 12),
            "Forced with nine other teenagers to record humiliating apology videos. One video "
            "was published; a copy is kept as evidence.",
        )
        self._note(
            case,
            "caseworker",
            _aware(day + dt.timedelta(days=20), 12),
            "Both escaped from detention.",
        )
        self._activate(
            case,
            "coordinator",
            "Testimony collected from both after relocation.",
            "Documentation under way for the analyst.",
        )
        return case
