import datetime as dt

import pytest
import time_machine

from refuge.core.errors import DomainError
from refuge.people import services
from refuge.people.models import ProtectedPerson
from refuge.people.services import IdentityInput
from refuge.people.validation import is_minor
from refuge.security.models import AuditEntry, DataKey
from tests.factories import RelativeFactory

pytestmark = pytest.mark.django_db


def identity(**values):
    return IdentityInput(provided=set(values), **values)


def test_a_person_gets_a_generated_pseudonym(cast):
    person = services.person_create(actor=cast.caseworker, identity=identity(legal_name="A B"))
    assert person.pseudonym.isupper()


def test_the_minor_flag_follows_the_birth_date(cast):
    born = dt.date.today().replace(year=dt.date.today().year - 17)
    person = services.person_create(actor=cast.caseworker, identity=identity(date_of_birth=born))
    assert person.is_minor


def test_a_bad_phone_is_refused_and_nothing_is_created(cast):
    before = ProtectedPerson.objects.count()
    with pytest.raises(DomainError) as excinfo:
        services.person_create(actor=cast.caseworker, identity=identity(phones="call me maybe"))
    assert "phones" in excinfo.value.field_errors
    assert ProtectedPerson.objects.count() == before


def test_a_birth_date_in_the_future_is_refused(cast):
    with pytest.raises(DomainError) as excinfo:
        services.person_create(
            actor=cast.caseworker,
            identity=identity(date_of_birth=dt.date.today() + dt.timedelta(days=3)),
        )
    assert "date_of_birth" in excinfo.value.field_errors


def test_a_taken_pseudonym_is_refused(cast):
    with pytest.raises(DomainError) as excinfo:
        services.person_create(actor=cast.caseworker, identity=identity(), pseudonym="falcon")
    assert "pseudonym" in excinfo.value.field_errors


def test_analysts_cannot_create_people(cast):
    with pytest.raises(DomainError):
        services.person_create(actor=cast.analyst, identity=identity())


def test_the_audit_entry_names_fields_not_values(cast):
    person = services.person_create(
        actor=cast.caseworker, identity=identity(legal_name="Secret Name")
    )
    entry = AuditEntry.objects.get(action="refuge.people.person.created", object_id=str(person.pk))
    assert "legal_name" in entry.detail
    assert "Secret" not in entry.detail


def test_an_update_records_which_fields_changed(cast):
    services.person_update(
        actor=cast.caseworker, person=cast.falcon, identity=identity(phones="+7 900 000-00-00")
    )
    entry = AuditEntry.objects.filter(action="refuge.people.person.updated").latest("seq")
    assert "phones" in entry.detail
    assert "900" not in entry.detail


def test_an_unchanged_update_writes_nothing(cast):
    before = AuditEntry.objects.count()
    services.person_update(
        actor=cast.caseworker, person=cast.falcon, risk_level=cast.falcon.risk_level
    )
    assert AuditEntry.objects.count() == before


def test_removing_a_relative_destroys_its_keys(cast):
    relative = RelativeFactory(person=cast.falcon)
    keys = [relative.data_key_id, relative.location_key_id]
    services.relative_remove(actor=cast.caseworker, relative=relative)
    assert not DataKey.objects.filter(pk__in=keys).exists()


def test_people_who_turn_18_lose_the_minor_flag(cast):
    with time_machine.travel(dt.datetime.now(tz=dt.UTC) + dt.timedelta(days=366), tick=False):
        assert services.people_refresh_minor_flags() == (1, None)
    assert not ProtectedPerson.objects.get(pk=cast.birch.pk).is_minor


def test_the_minor_flags_are_refreshed_in_slices_that_each_say_where_to_go_on(cast):
    from tests.factories import PersonFactory

    a_year_on = dt.datetime.now(tz=dt.UTC) + dt.timedelta(days=366)
    born = (a_year_on - dt.timedelta(days=18 * 365 + 10)).date()  # adults by then
    more = [PersonFactory(is_minor=True, date_of_birth=born) for _ in range(3)]
    minors = sorted([cast.birch.pk, *(p.pk for p in more)])
    with time_machine.travel(a_year_on, tick=False):
        first = services.people_refresh_minor_flags(limit=2)
        assert first == (2, minors[1])
        second = services.people_refresh_minor_flags(after=first[1], limit=2)
        assert second == (2, minors[3])  # a full slice: there may be more
        assert services.people_refresh_minor_flags(after=second[1], limit=2) == (0, None)
    assert not ProtectedPerson.objects.filter(is_minor=True).exists()


@pytest.mark.parametrize(
    ("born", "today", "expected"),
    [
        (dt.date(2008, 5, 1), dt.date(2026, 4, 30), True),
        (dt.date(2008, 5, 1), dt.date(2026, 5, 1), False),
        (dt.date(2008, 2, 29), dt.date(2026, 2, 28), False),
        (None, dt.date(2026, 1, 1), False),
    ],
)
def test_is_minor(born, today, expected):
    assert is_minor(born, today=today) is expected


def test_erasing_a_minors_birth_date_keeps_the_minor_flag(cast):
    services.person_update(
        actor=cast.caseworker, person=cast.birch, identity=identity(date_of_birth=None)
    )
    assert ProtectedPerson.objects.get(pk=cast.birch.pk).is_minor


def test_a_relative_without_a_risk_level_is_refused(cast):
    relative = RelativeFactory(person=cast.falcon)
    with pytest.raises(DomainError) as excinfo:
        services.relative_update(
            actor=cast.caseworker, relative=relative, values={"risk_level": None}
        )
    assert "risk_level" in excinfo.value.field_errors
