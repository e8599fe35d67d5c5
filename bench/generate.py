"""Fills the benchmark database: N protected people and N cases, with teams, staff of every role,
timeline entries and tasks.

Speed comes from bulk_create. Encrypted columns still go through the model fields: Django calls
each field's pre_save() while it compiles a bulk INSERT, so EncryptedTextField.pre_save encrypts
under the record's own data key exactly as a single save() would. The data keys are generated up
front with the configured Crypto (new_data_key) and bulk-inserted first, so DataKeyField.pre_save
finds its key set and does not insert one row per record. Every batch is one transaction and is
dropped before the next, so memory stays flat at a million records.

All names, phones and addresses are synthetic.
"""

from __future__ import annotations

import datetime as dt
import random
import resource
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.hashers import make_password
from django.db import transaction

from refuge.accounts.models import Role, Team, TeamMembership, User
from refuge.cases.models import Case, CaseStatus, CaseType, Task, TimelineEntry
from refuge.core import clock, ids
from refuge.core.ids import CODE_ALPHABET
from refuge.people import validation
from refuge.people.models import ProtectedPerson, RiskLevel
from refuge.people.pseudonyms import WORDS
from refuge.security.crypto import KeyContext
from refuge.security.models import DataKey, KeyRing
from refuge.security.provider import get_crypto

Progress = Callable[[str], None]

SEED = 20_240_601
USERNAME_PREFIX = "bench-"
# Rows per INSERT statement (SQLite lowers this further to its own parameter limit).
INSERT_BATCH = 1_000
TIMELINE_PER_CASE = 2  # "opened" (structured data only) and one note (encrypted text)
TASK_EVERY = 2  # one task on every second case
SECOND_PERSON_SHARE = 0.3  # cases that also concern a relative at risk

STATUS_WEIGHTS = {
    CaseStatus.INTAKE: 10,
    CaseStatus.VERIFICATION: 10,
    CaseStatus.ACTIVE: 45,
    CaseStatus.CLOSED: 25,
    CaseStatus.ARCHIVED: 10,
}
TYPE_WEIGHTS = {
    CaseType.EMERGENCY: 25,
    CaseType.EVACUATION: 30,
    CaseType.LEGAL: 30,
    CaseType.DOCUMENTATION: 15,
}
RISK_WEIGHTS = {RiskLevel.LOW: 10, RiskLevel.MEDIUM: 30, RiskLevel.HIGH: 45, RiskLevel.CRITICAL: 15}
LANGUAGE_SETS = ("ru", "ru,ce", "ru,en", "ce", "en", "ru,other")
NOTE_WORDS = (
    "called",
    "back",
    "safe",
    "flat",
    "checked",
    "lawyer",
    "visited",
    "court",
    "hearing",
    "postponed",
    "relatives",
    "moved",
    "documents",
    "copied",
    "evidence",
    "sent",
    "police",
    "refused",
    "statement",
    "family",
    "informed",
    "tickets",
    "bought",
    "border",
    "crossed",
    "shelter",
    "arranged",
    "doctor",
    "examined",
    "threats",
    "received",
    "follow",
    "up",
    "tomorrow",
    "calm",
)
FIRST_NAMES = (
    "Amir",
    "Ruslan",
    "Zaur",
    "Islam",
    "Timur",
    "Aslan",
    "Madina",
    "Zarema",
    "Leila",
    "Aminat",
    "Marat",
    "Adam",
)
LAST_NAMES = (
    "Testaev",
    "Demoev",
    "Primerov",
    "Obraztsov",
    "Shablonov",
    "Vymyslov",
    "Uslovnov",
    "Probnov",
)

# Case codes: the app's four-character codes (random_code("K")) give only 30**4 = 810,000 codes,
# fewer than a million cases, so the benchmark uses six characters. A multiplicative permutation
# of the index keeps them unique without remembering the codes already drawn.
_CODE_LENGTH = 6
_CODE_SPACE = len(CODE_ALPHABET) ** _CODE_LENGTH
_CODE_MULTIPLIER = 7_368_787  # coprime with 30**6 (not divisible by 2, 3 or 5)


def case_code(index: int) -> str:
    value = (index * _CODE_MULTIPLIER + 12_345) % _CODE_SPACE
    chars = []
    for _position in range(_CODE_LENGTH):
        value, digit = divmod(value, len(CODE_ALPHABET))
        chars.append(CODE_ALPHABET[digit])
    return "K-" + "".join(chars)


def pseudonym(index: int) -> str:
    return f"{WORDS[index % len(WORDS)]}-{index + 1}"


def team_count(n: int) -> int:
    return min(100, max(4, n // 2_000))


@dataclass
class Staff:
    coordinators: list[User]
    operators: list[User]
    analysts: list[User]
    admins: list[User]
    by_team: dict[Any, list[User]]  # team id -> [lead caseworker, lawyer, caseworker]

    def count(self) -> int:
        central = self.coordinators + self.operators + self.analysts + self.admins
        return len(central) + sum(len(members) for members in self.by_team.values())


@dataclass
class Dataset:
    """What the generator made, and the two actors the page benchmarks log in as."""

    n: int
    coordinator: User
    member: User  # a lawyer on two teams: sees the cases of those teams only
    teams: int
    seconds: float
    rows: dict[str, int] = field(default_factory=dict)


def _weighted(rng: random.Random, weights: dict[Any, int], k: int) -> list[Any]:
    return rng.choices(list(weights), weights=list(weights.values()), k=k)


def _text(rng: random.Random, low: int, high: int) -> str:
    return " ".join(rng.choices(NOTE_WORDS, k=rng.randint(low, high))).capitalize() + "."


class _KeyMaker:
    """Data keys made with the configured Crypto, as refuge.security.fields would make them."""

    def __init__(self) -> None:
        ring, _created = KeyRing.objects.get_or_create(id=1)
        self.kek_version = ring.current_kek_version
        self.crypto = get_crypto()

    def make(self, purpose: str) -> DataKey:
        # Time-ordered ids, as security.fields gives every key: a million keys must be laid
        # out in their indexes as a real deployment's are (random ids leave them twice as big).
        key = DataKey(id=ids.time_ordered_uuid(), purpose=purpose, kek_version=self.kek_version)
        _dek, wrapped = self.crypto.new_data_key(
            KeyContext(str(key.id), purpose), kek_version=self.kek_version
        )
        key.wrapped = wrapped
        return key


def _make_staff(teams: Sequence[Team]) -> Staff:
    unusable = make_password(None)  # force_login needs no password; hashing would be slow
    users: list[User] = []

    def user(username: str, role: str) -> User:
        account = User(username=USERNAME_PREFIX + username, role=role, password=unusable)
        users.append(account)
        return account

    staff = Staff(
        coordinators=[user(f"coordinator-{i}", Role.COORDINATOR) for i in range(1, 4)],
        operators=[
            user(f"operator-{i}", Role.OPERATOR) for i in range(1, max(2, len(teams) // 2) + 1)
        ],
        analysts=[user(f"analyst-{i}", Role.ANALYST) for i in range(1, 3)],
        admins=[user("admin-1", Role.ADMIN)],
        by_team={},
    )
    for number, team in enumerate(teams, start=1):
        staff.by_team[team.pk] = [
            user(f"t{number}-caseworker-lead", Role.CASEWORKER),
            user(f"t{number}-lawyer", Role.LAWYER),
            user(f"t{number}-caseworker", Role.CASEWORKER),
        ]
    User.objects.bulk_create(users, batch_size=INSERT_BATCH)
    memberships = [
        TeamMembership(team=team, user=member, is_lead=position == 0)
        for team in teams
        for position, member in enumerate(staff.by_team[team.pk])
    ]
    # The benchmark's team member also sits on a second team, as lawyers often do.
    memberships.append(TeamMembership(team=teams[1], user=staff.by_team[teams[0].pk][1]))
    TeamMembership.objects.bulk_create(memberships, batch_size=INSERT_BATCH)
    return staff


def _batches(n: int, size: int) -> Iterator[range]:
    for start in range(0, n, size):
        yield range(start, min(n, start + size))


def _people(indexes: range, rng: random.Random, keys: _KeyMaker) -> list[ProtectedPerson]:
    today = clock.today()
    people = []
    for index in indexes:
        age_days = rng.randint(12 * 365, 70 * 365)
        born = today - dt.timedelta(days=age_days)
        person = ProtectedPerson(
            pseudonym=pseudonym(index),
            risk_level=_weighted(rng, RISK_WEIGHTS, 1)[0],
            languages=rng.choice(LANGUAGE_SETS),
            is_minor=validation.is_minor(born, today=today),
            data_key=keys.make(DataKey.Purpose.RECORD),
            location_key=keys.make(DataKey.Purpose.LOCATION),
        )
        person.legal_name = f"{rng.choice(FIRST_NAMES)} Benchovich {rng.choice(LAST_NAMES)}"
        person.date_of_birth = born
        person.phones = (
            f"+7 900 {index % 1000:03d}-{rng.randint(0, 99):02d}-{rng.randint(0, 99):02d}"
        )
        person.address = f"Primerny, ul. Testovaya {rng.randint(1, 200)}, kv. {rng.randint(1, 300)}"
        person.notes = _text(rng, 10, 60)
        if rng.random() < 0.2:
            person.aliases = rng.choice(FIRST_NAMES)
        people.append(person)
    return people


def _cases(
    indexes: range, rng: random.Random, keys: _KeyMaker, teams: Sequence[Team], staff: Staff
) -> list[Case]:
    now = clock.now()
    statuses = _weighted(rng, STATUS_WEIGHTS, len(indexes))
    types = _weighted(rng, TYPE_WEIGHTS, len(indexes))
    risks = _weighted(rng, RISK_WEIGHTS, len(indexes))
    cases = []
    for position, index in enumerate(indexes):
        team = teams[index % len(teams)]
        status = statuses[position]
        case = Case(
            code=case_code(index),
            case_type=types[position],
            status=status,
            risk_level=risks[position],
            team=team,
            opened_by=rng.choice(staff.by_team[team.pk]),
            closed_at=(
                now - dt.timedelta(days=rng.randint(1, 700))
                if status in {CaseStatus.CLOSED, CaseStatus.ARCHIVED}
                else None
            ),
            data_key=keys.make(DataKey.Purpose.RECORD),
        )
        case.summary = _text(rng, 8, 40)
        cases.append(case)
    return cases


def _links(
    cases: Sequence[Case], people: Sequence[ProtectedPerson], rng: random.Random
) -> list[Any]:
    through = Case.people.through
    links = []
    for case, person in zip(cases, people, strict=True):
        links.append(through(case_id=case.pk, protectedperson_id=person.pk))
        if rng.random() < SECOND_PERSON_SHARE:
            other = rng.choice(people)
            if other.pk != person.pk:
                links.append(through(case_id=case.pk, protectedperson_id=other.pk))
    return links


def _timeline(
    cases: Sequence[Case], people: Sequence[ProtectedPerson], rng: random.Random, keys: _KeyMaker
) -> list[TimelineEntry]:
    now = clock.now()
    entries = []
    for case, person in zip(cases, people, strict=True):
        opened_at = now - dt.timedelta(minutes=rng.randint(60, 3 * 365 * 24 * 60))
        entries.append(
            TimelineEntry(
                case=case,
                kind=TimelineEntry.Kind.OPENED,
                author=case.opened_by,
                occurred_at=opened_at,
                data={"type": case.case_type, "people": [person.pseudonym]},
                data_key=keys.make(DataKey.Purpose.RECORD),
            )
        )
        note = TimelineEntry(
            case=case,
            kind=rng.choice((TimelineEntry.Kind.NOTE, TimelineEntry.Kind.CALL)),
            author=case.opened_by,
            occurred_at=opened_at + dt.timedelta(minutes=rng.randint(5, 60 * 24 * 30)),
            data={},
            data_key=keys.make(DataKey.Purpose.RECORD),
        )
        note.text = _text(rng, 5, 80)
        entries.append(note)
    return entries


def _tasks(cases: Sequence[Case], rng: random.Random, keys: _KeyMaker, staff: Staff) -> list[Task]:
    today = clock.today()
    now = clock.now()
    tasks = []
    for case in cases[::TASK_EVERY]:
        task = Task(
            case=case,
            due_date=today + dt.timedelta(days=rng.randint(-30, 60)),
            assignee=rng.choice(staff.by_team[case.team_id]),
            created_by=case.opened_by,
            done_at=now - dt.timedelta(days=rng.randint(0, 30)) if rng.random() < 0.4 else None,
            data_key=keys.make(DataKey.Purpose.RECORD),
        )
        task.title = _text(rng, 3, 12)
        tasks.append(task)
    return tasks


def _insert_batch(
    indexes: range, rng: random.Random, keys: _KeyMaker, teams: Sequence[Team], staff: Staff
) -> dict[str, int]:
    people = _people(indexes, rng, keys)
    cases = _cases(indexes, rng, keys, teams, staff)
    links = _links(cases, people, rng)
    entries = _timeline(cases, people, rng, keys)
    tasks = _tasks(cases, rng, keys, staff)
    data_keys = [p.data_key for p in people] + [p.location_key for p in people]
    data_keys += [c.data_key for c in cases] + [e.data_key for e in entries]
    data_keys += [t.data_key for t in tasks]
    with transaction.atomic():
        DataKey.objects.bulk_create(data_keys, batch_size=INSERT_BATCH)
        ProtectedPerson.objects.bulk_create(people, batch_size=INSERT_BATCH)
        Case.objects.bulk_create(cases, batch_size=INSERT_BATCH)
        Case.people.through.objects.bulk_create(links, batch_size=INSERT_BATCH)
        TimelineEntry.objects.bulk_create(entries, batch_size=INSERT_BATCH)
        Task.objects.bulk_create(tasks, batch_size=INSERT_BATCH)
    return {
        "data keys": len(data_keys),
        "people": len(people),
        "cases": len(cases),
        "case-person links": len(links),
        "timeline entries": len(entries),
        "tasks": len(tasks),
    }


def generate(n: int, *, batch_size: int = 5_000, progress: Progress = print) -> Dataset:
    """Make `n` protected people and `n` cases (and their timelines, tasks and keys)."""
    if n < 2:
        raise ValueError("the benchmark needs at least two people and two cases")
    started = time.perf_counter()
    rng = random.Random(SEED)
    keys = _KeyMaker()
    with transaction.atomic():
        teams = Team.objects.bulk_create(
            [Team(name=f"Bench team {number:03d}") for number in range(1, team_count(n) + 1)]
        )
        staff = _make_staff(teams)
    rows: dict[str, int] = {"teams": len(teams), "staff users": staff.count()}
    done = 0
    for indexes in _batches(n, batch_size):
        for name, count in _insert_batch(indexes, rng, keys, teams, staff).items():
            rows[name] = rows.get(name, 0) + count
        done = indexes.stop
        elapsed = time.perf_counter() - started
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
        progress(
            f"  generated {done:,}/{n:,} people and cases "
            f"({elapsed:.1f} s, {done / elapsed:,.0f} people+cases/s, peak RSS {peak_mb:,.0f} MB)"
        )
    seconds = time.perf_counter() - started
    return Dataset(
        n=n,
        coordinator=staff.coordinators[0],
        member=staff.by_team[teams[0].pk][1],
        teams=len(teams),
        seconds=seconds,
        rows=rows,
    )
