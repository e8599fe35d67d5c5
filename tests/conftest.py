"""The fixed cast (after scenario.md): a team with a caseworker (its lead) and a lawyer, an
outsider on another team, an operator, an analyst, a coordinator and an admin; FALCON (22) and
BIRCH (17, a minor) on one evacuation case of the team."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from django.test import Client

from refuge.accounts.models import Role, User
from refuge.cases.models import Case, CaseType
from refuge.people.models import ProtectedPerson
from tests.factories import (
    CaseFactory,
    MembershipFactory,
    PersonFactory,
    RelativeFactory,
    TeamFactory,
    UserFactory,
)

FALCON_NAME = "Rustam Zaurbekovich Testaev"
FALCON_PHONE = "+7 900 555-01-23"
BIRCH_NAME = "Islam Ruslanovich Demoev"
BIRCH_PHONE = "+7 900 555-04-56"
FLAT_ADDRESS = "Nizhny Novgorod, ul. Testovaya 12, kv. 34"
MOTHER_NAME = "Zarema Testaeva"


@dataclass
class Cast:
    coordinator: User
    caseworker: User
    lawyer: User
    outsider: User
    operator: User
    analyst: User
    admin: User
    falcon: ProtectedPerson
    birch: ProtectedPerson
    case: Case

    def by_role(self) -> dict[str, User]:
        return {
            "coordinator": self.coordinator,
            "caseworker": self.caseworker,
            "lawyer": self.lawyer,
            "outsider": self.outsider,
            "operator": self.operator,
            "analyst": self.analyst,
            "admin": self.admin,
        }


@pytest.fixture
def cast(db: None) -> Cast:
    team = TeamFactory(name="Nizhny team")
    other_team = TeamFactory(name="Moscow team")
    caseworker = UserFactory(username="caseworker", role=Role.CASEWORKER)
    lawyer = UserFactory(username="lawyer", role=Role.LAWYER)
    outsider = UserFactory(username="outsider", role=Role.CASEWORKER)
    MembershipFactory(team=team, user=caseworker, is_lead=True)
    MembershipFactory(team=team, user=lawyer)
    MembershipFactory(team=other_team, user=outsider)
    today = dt.date.today()
    falcon = PersonFactory(
        pseudonym="FALCON",
        legal_name=FALCON_NAME,
        phones=FALCON_PHONE,
        address=FLAT_ADDRESS,
        date_of_birth=today.replace(year=today.year - 22),
    )
    birch = PersonFactory(
        pseudonym="BIRCH",
        legal_name=BIRCH_NAME,
        phones=BIRCH_PHONE,
        address=FLAT_ADDRESS,
        date_of_birth=today.replace(year=today.year - 17),
        is_minor=True,
    )
    RelativeFactory(person=falcon, name=MOTHER_NAME)
    case = CaseFactory(team=team, case_type=CaseType.EVACUATION, people=[falcon, birch])
    return Cast(
        coordinator=UserFactory(username="coordinator", role=Role.COORDINATOR),
        caseworker=caseworker,
        lawyer=lawyer,
        outsider=outsider,
        operator=UserFactory(username="operator", role=Role.OPERATOR),
        analyst=UserFactory(username="analyst", role=Role.ANALYST),
        admin=UserFactory(username="admin", role=Role.ADMIN),
        falcon=falcon,
        birch=birch,
        case=case,
    )


@pytest.fixture
def login(client: Client):  # type: ignore[no-untyped-def]
    def _login(user: User) -> Client:
        client.force_login(user)
        return client

    return _login
