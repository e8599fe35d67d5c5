"""The contact log of a relative on the person's page: listed newest first, added from the page,
follow-ups cleared; team members and coordinators may, outsiders get 404."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from refuge.core import clock
from refuge.people.models import RelativeContact
from refuge.people.services import contacts

pytestmark = pytest.mark.django_db


def mother(cast):
    return cast.falcon.relatives.get()


def add_url(cast):
    return reverse("people:relative_contact_add", args=[mother(cast).pk])


def local(moment: dt.datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


def form(cast, **values):
    return {
        "occurred_at": local(clock.now() - dt.timedelta(hours=2)),
        "channel": "messenger",
        "direction": "incoming",
        "staff": str(cast.caseworker.pk),
        "summary": "She was questioned at the district office",
        **values,
    }


def logged(cast, summary, *, days_ago, follow_up=False):
    return contacts.relative_contact_log(
        actor=cast.caseworker,
        relative=mother(cast),
        occurred_at=clock.now() - dt.timedelta(days=days_ago),
        channel="phone",
        direction="outgoing",
        summary=summary,
        follow_up_needed=follow_up,
    )


@pytest.mark.parametrize("role", ["caseworker", "lawyer", "coordinator"])
def test_the_person_page_lists_the_log_newest_first(cast, login, role):
    logged(cast, "Older contact", days_ago=5)
    logged(cast, "Newer contact", days_ago=1)
    page = login(cast.by_role()[role]).get(reverse("people:detail", args=[cast.falcon.pk]))
    body = page.content.decode()
    assert body.index("Newer contact") < body.index("Older contact")
    assert "Phone call" in body
    assert "We contacted them" in body


@pytest.mark.parametrize("role", ["caseworker", "lawyer", "coordinator"])
def test_the_team_and_coordinators_log_a_contact_from_the_page(cast, login, role):
    response = login(cast.by_role()[role]).post(add_url(cast), form(cast))
    assert response.status_code == 302
    expected = reverse("people:detail", args=[cast.falcon.pk]) + f"#relative-{mother(cast).pk}"
    assert response["Location"] == expected
    contact = RelativeContact.objects.get()
    assert (contact.channel, contact.direction, contact.staff) == (
        "messenger",
        "incoming",
        cast.caseworker,
    )


def test_the_form_offers_only_staff_who_may_see_the_relative(cast, login):
    page = login(cast.caseworker).get(add_url(cast)).content.decode()
    assert "lawyer" in page
    assert "outsider" not in page


@pytest.mark.parametrize("role", ["outsider", "analyst", "operator", "admin"])
@pytest.mark.parametrize("method", ["get", "post"])
def test_everyone_else_gets_404_and_nothing_is_logged(cast, login, role, method):
    response = getattr(login(cast.by_role()[role]), method)(add_url(cast), form(cast))
    assert response.status_code == 404
    assert not RelativeContact.objects.exists()


def test_a_refused_entry_keeps_what_was_typed_and_says_why(cast, login):
    future = local(clock.now() + dt.timedelta(days=1))
    response = login(cast.caseworker).post(add_url(cast), form(cast, occurred_at=future))
    body = response.content.decode()
    assert response.status_code == 400
    assert "This time is in the future." in body
    assert "She was questioned at the district office" in body
    assert not RelativeContact.objects.exists()


def test_a_follow_up_is_cleared_from_the_page(cast, login):
    contact = logged(cast, "Call back on Friday", days_ago=1, follow_up=True)
    url = reverse("people:relative_contact_follow_up", args=[contact.pk])
    response = login(cast.lawyer).post(url)
    contact.refresh_from_db()
    assert response.status_code == 302
    assert contact.follow_up_needed is False


def test_an_outsider_cannot_clear_a_follow_up(cast, login):
    contact = logged(cast, "Call back on Friday", days_ago=1, follow_up=True)
    url = reverse("people:relative_contact_follow_up", args=[contact.pk])
    assert login(cast.outsider).post(url).status_code == 404
    contact.refresh_from_db()
    assert contact.follow_up_needed is True


def test_the_log_needs_the_reveal_step_like_the_relatives(cast, login):
    logged(cast, "Hidden until step-up", days_ago=1)
    page = login(cast.caseworker, step_up=False).get(
        reverse("people:detail", args=[cast.falcon.pk])
    )
    assert "Hidden until step-up" not in page.content.decode()
