"""The fixed cast (after scenario.md): a team with a caseworker (its lead) and a lawyer, an
outsider on another team, an operator, an analyst, a coordinator and an admin; FALCON (22) and
BIRCH (17, a minor) on one evacuation case of the team."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.models import Device
from django_otp_webauthn.models import WebAuthnCredential

from refuge.accounts import factors, stepup
from refuge.accounts.models import Role, User
from refuge.cases.models import Case, CaseType
from refuge.core import clock
from refuge.people.models import ProtectedPerson
from tests.browser import browser  # noqa: F401 - one Chromium for every browser test
from tests.factories import (
    CaseFactory,
    MembershipFactory,
    PasskeyFactory,
    PersonFactory,
    RelativeFactory,
    TeamFactory,
    TotpDeviceFactory,
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


def second_factor_for(user: User) -> Device:
    """A confirmed second factor of the kind the user's role signs in with (a passkey where the
    role needs one, else TOTP); an existing one is reused."""
    if factors.passkey_required(user):
        existing = factors.user_factors(user).passkeys
        return existing[0] if existing else PasskeyFactory(user=user)
    totp = factors.user_factors(user).totp
    return totp[0] if totp else TotpDeviceFactory(user=user)


def verified_login(client: Client, user: User, *, step_up: bool = True) -> Client:
    """Sign `client` in as `user` with a verified second factor, as after the login's second
    step. `step_up`: the session has also just re-authenticated (accounts.stepup), so pages that
    reveal an identity show it; tests of the step-up itself pass False."""
    device = second_factor_for(user)
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    if step_up:
        now = clock.now().timestamp()
        session[stepup.STEP_UP_AT] = now
        if isinstance(device, WebAuthnCredential):
            session[stepup.STEP_UP_PASSKEY_AT] = now
    session.save()
    return client


@pytest.fixture
def login(client: Client):  # type: ignore[no-untyped-def]
    def _login(user: User, *, step_up: bool = True) -> Client:
        return verified_login(client, user, step_up=step_up)

    return _login


@pytest.fixture(scope="module")
def audit_truncatable(django_db_setup, django_db_blocker):  # type: ignore[no-untyped-def]
    """A transactional test on PostgreSQL ends with TRUNCATE, which the audit table refuses
    (append-only triggers): lift them until the module's last test has been flushed (a module
    fixture is torn down after the test's own database teardown). SQLite flushes with DELETE
    of what the test wrote; a test that audits nothing needs no lifting there."""
    from django.db import connection

    if connection.vendor != "postgresql":
        yield
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute("ALTER TABLE security_auditentry DISABLE TRIGGER USER")
    yield
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute("ALTER TABLE security_auditentry ENABLE TRIGGER USER")
