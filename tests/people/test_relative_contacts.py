"""The log of contacts with relatives at risk: dated entries with channel, staff member,
direction, an encrypted summary and a follow-up flag; audited; seen on the relative's terms."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.db import connection

from refuge.core import clock
from refuge.core.errors import DomainError
from refuge.people import selectors, services
from refuge.people.models import RelativeContact
from refuge.people.services import contacts
from refuge.security.models import AuditEntry, DataKey
from tests.factories import RelativeFactory

pytestmark = pytest.mark.django_db

SUMMARY = "Mother says men in uniform asked about Rustam twice"


def mother(cast):
    return cast.falcon.relatives.get()


def log(cast, actor=None, relative=None, **values):
    defaults = {
        "occurred_at": clock.now() - dt.timedelta(hours=1),
        "channel": "phone",
        "direction": "outgoing",
        "summary": SUMMARY,
    }
    return contacts.relative_contact_log(
        actor=actor or cast.caseworker,
        relative=relative or mother(cast),
        **{**defaults, **values},
    )


def test_a_contact_is_logged_with_its_facts(cast):
    contact = log(cast, staff=cast.lawyer, follow_up_needed=True)
    saved = RelativeContact.objects.get(pk=contact.pk)
    assert (saved.channel, saved.direction, saved.staff, saved.recorded_by) == (
        "phone",
        "outgoing",
        cast.lawyer,
        cast.caseworker,
    )
    assert saved.follow_up_needed is True
    assert saved.summary == SUMMARY


def test_the_staff_member_defaults_to_whoever_logs_it(cast):
    assert log(cast).staff == cast.caseworker


def test_the_summary_is_encrypted_at_rest(cast):
    contact = log(cast)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT summary_ct FROM people_relativecontact WHERE id = %s",
            [contact.pk.hex] if connection.vendor == "sqlite" else [contact.pk],
        )
        (stored,) = cursor.fetchone()
    assert SUMMARY.encode() not in bytes(stored)


def test_logging_is_audited_without_the_summary(cast):
    contact = log(cast)
    entry = AuditEntry.objects.get(action="refuge.people.relative_contact.logged")
    detail = json.loads(entry.detail)
    assert entry.object_id == str(contact.pk)
    assert detail["channel"] == "phone"
    assert SUMMARY not in entry.detail


def test_the_log_is_newest_first(cast):
    older = log(cast, occurred_at=clock.now() - dt.timedelta(days=3))
    newer = log(cast, occurred_at=clock.now() - dt.timedelta(days=1))
    found = selectors.relative_contacts(actor=cast.caseworker, relatives=[mother(cast)])
    assert found[mother(cast).pk] == [newer, older]


def test_a_time_in_the_future_is_refused_and_nothing_is_logged(cast):
    with pytest.raises(DomainError) as refused:
        log(cast, occurred_at=clock.now() + dt.timedelta(hours=2))
    assert refused.value.field_errors == {"occurred_at": ["This time is in the future."]}
    assert not RelativeContact.objects.exists()


def test_a_missing_time_is_refused(cast):
    with pytest.raises(DomainError) as refused:
        log(cast, occurred_at=None)
    assert "occurred_at" in refused.value.field_errors


def test_an_unknown_channel_is_refused(cast):
    with pytest.raises(DomainError) as refused:
        log(cast, channel="pigeon")
    assert refused.value.field_errors == {"channel": ["Choose a channel from the list."]}


def test_an_overlong_summary_is_refused(cast):
    with pytest.raises(DomainError) as refused:
        log(cast, summary="x" * 20_001)
    assert "summary" in refused.value.field_errors


def test_a_staff_member_who_may_not_see_the_relative_cannot_be_named(cast):
    with pytest.raises(DomainError) as refused:
        log(cast, staff=cast.outsider)
    assert refused.value.field_errors == {
        "staff": ["Choose a staff member who may see this relative."]
    }


def test_a_role_that_may_not_change_people_cannot_log(cast):
    with pytest.raises(DomainError):
        log(cast, actor=cast.analyst)


def test_a_follow_up_is_marked_done_and_audited(cast):
    contact = log(cast, follow_up_needed=True)
    contacts.relative_contact_follow_up_done(actor=cast.lawyer, contact=contact)
    contact.refresh_from_db()
    assert contact.follow_up_needed is False
    assert AuditEntry.objects.filter(action="refuge.people.relative_contact.followed_up").exists()


def test_a_contact_without_follow_up_cannot_be_marked_done(cast):
    with pytest.raises(DomainError):
        contacts.relative_contact_follow_up_done(actor=cast.lawyer, contact=log(cast))


@pytest.mark.parametrize(("role", "sees"), [("caseworker", True), ("lawyer", True),
    ("coordinator", True), ("outsider", False), ("operator", False), ("analyst", False),
    ("admin", False)])  # fmt: skip
def test_the_log_is_seen_on_the_relatives_terms(cast, role, sees):
    log(cast)
    found = selectors.relative_contacts(actor=cast.by_role()[role], relatives=[mother(cast)])
    assert bool(found[mother(cast).pk]) is sees


def test_a_minors_relative_contacts_are_hidden_from_a_team_member_who_is_not_the_lead(cast):
    birch_relative = RelativeFactory(person=cast.birch, name="Birch Aunt")
    log(cast, relative=birch_relative)
    found = selectors.relative_contacts(actor=cast.lawyer, relatives=[birch_relative])
    assert found[birch_relative.pk] == []


def test_removing_a_relative_destroys_the_keys_of_its_log(cast):
    contact = log(cast)
    key_id = contact.data_key_id
    services.relative_remove(actor=cast.caseworker, relative=mother(cast))
    assert not RelativeContact.objects.filter(pk=contact.pk).exists()
    assert not DataKey.objects.filter(pk=key_id).exists()


def test_the_staff_choices_are_those_who_may_see_the_relative(cast):
    names = [u.username for u in selectors.relative_contact_staff(relative=mother(cast))]
    assert names == ["caseworker", "coordinator", "lawyer"]
