"""factory_boy factories for the fixed cast and for ad-hoc objects."""

from __future__ import annotations

import datetime as dt
import os

import factory

from refuge.accounts.models import Role, Team, TeamMembership, User
from refuge.cases.models import Case, CaseType, Task, TimelineEntry
from refuge.core import clock
from refuge.core.ids import random_code
from refuge.people.models import ProtectedPerson, Relative

PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"staff{n}")
    role = Role.CASEWORKER
    password = factory.django.Password(PASSWORD)


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Team {n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TeamMembership

    team = factory.SubFactory(TeamFactory)
    user = factory.SubFactory(UserFactory)
    is_lead = False


class PersonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProtectedPerson

    pseudonym = factory.Sequence(lambda n: f"CODE-{n}")
    legal_name = factory.Sequence(lambda n: f"Person Number{n} Testov")
    phones = "+7 900 555-00-00"


class RelativeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Relative

    person = factory.SubFactory(PersonFactory)
    relation = Relative.Relation.MOTHER
    name = "Relative Testova"


class CaseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Case
        skip_postgeneration_save = True

    code = factory.LazyFunction(lambda: random_code("K"))
    case_type = CaseType.EVACUATION
    team = factory.SubFactory(TeamFactory)
    summary = "Evacuation summary"

    @factory.post_generation
    def people(
        self, create: bool, extracted: list[ProtectedPerson] | None, **kwargs: object
    ) -> None:
        if create and extracted:
            self.people.set(extracted)


class TimelineEntryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TimelineEntry

    case = factory.SubFactory(CaseFactory)
    kind = TimelineEntry.Kind.NOTE
    occurred_at = factory.LazyFunction(clock.now)
    text = "A note"


class TaskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Task

    case = factory.SubFactory(CaseFactory)
    title = "Chase the police"
    due_date = factory.LazyFunction(lambda: clock.today() + dt.timedelta(days=2))


class PasskeyFactory(factory.django.DjangoModelFactory):
    """A confirmed passkey with a made-up credential (tests never run a real ceremony here)."""

    class Meta:
        model = "django_otp_webauthn.WebAuthnCredential"

    user = factory.SubFactory(UserFactory)
    name = "Security key"
    confirmed = True
    credential_id = factory.LazyFunction(lambda: os.urandom(32))
    public_key = factory.LazyFunction(lambda: os.urandom(64))
    sign_count = 0


class TotpDeviceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "otp_totp.TOTPDevice"

    user = factory.SubFactory(UserFactory)
    name = "Phone"
    confirmed = True


def evidence_file(
    *, case: Case, actor: User, data: bytes = b"evidence bytes", name: str = "evidence.mp4"
) -> object:
    """An evidence file on `case`, through the real intake (encrypted into EVIDENCE_DIR)."""
    from refuge.evidence import services

    return services.evidence_ingest(actor=actor, case=case, chunks=[data], original_name=name)
