"""The limits of the person's page over HTTP: a repeated SOS answers the same way every time and
is counted on the emergency; links that open nothing are answered 429 beyond the limit of one
address, with the same neutral page, while a working link from there still works; SOS from many
links of one address beyond the limit are recorded into one flood emergency."""

from __future__ import annotations

import secrets

import pytest
from django.test import Client
from django.urls import reverse

from refuge.alerts.models import Alert, Emergency, EmergencySource
from refuge.alerts.services import checkin_links, source_windows
from tests.conftest import Cast
from tests.factories import PersonFactory

# The clock stands still: counts of one address must not straddle two windows.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("at_call_time")]

ADDRESS = "203.0.113.7"


def _bad_link() -> str:
    return f"/c/{secrets.token_urlsafe(32)}/"


def _client(address: str = ADDRESS) -> Client:
    return Client(REMOTE_ADDR=address)


def test_a_repeated_sos_answers_the_same_every_time_and_is_counted(
    cast: Cast, falcon_link: str, login
):
    client = _client()
    answers = [client.post(falcon_link, {"action": "sos"}) for _press in range(5)]
    assert {r.status_code for r in answers} == {200}
    assert len({r.content for r in answers}) == 1
    emergency = Emergency.objects.get()
    assert Alert.objects.get().repeats == 4
    page = login(cast.coordinator).get(reverse("alerts:emergency_detail", args=[emergency.pk]))
    assert "pressed 5 times" in page.content.decode()


def test_the_api_says_how_often_sos_was_pressed(cast: Cast, falcon_link: str):
    from refuge.accounts import tokens

    client = _client()
    for _press in range(3):
        client.post(falcon_link, {"action": "sos"})
    _token, plaintext = tokens.token_create(actor=None, user=cast.coordinator, name="t")
    emergency = Emergency.objects.get()
    body = (
        Client()
        .get(f"/api/v1/emergencies/{emergency.pk}", HTTP_AUTHORIZATION=f"Bearer {plaintext}")
        .json()
    )
    assert body["sos_presses"] == 3


def test_bad_links_beyond_the_limit_get_429_with_the_same_neutral_page(falcon_link: str):
    client = _client()
    answers = [client.get(_bad_link()) for _request in range(source_windows.BAD_LINKS_PER_SOURCE)]
    assert {r.status_code for r in answers} == {404}
    limited = client.get(_bad_link())
    assert limited.status_code == 429
    assert limited.content == answers[0].content
    assert 1 <= int(limited["Retry-After"]) <= source_windows.WINDOW.total_seconds()
    assert client.post(_bad_link(), {"action": "sos"}).status_code == 429
    assert not Alert.objects.exists()
    # The person is not blocked: their working link from the same address still works.
    assert client.get(falcon_link).status_code == 200
    assert client.post(falcon_link, {"action": "sos"}).status_code == 200
    assert Alert.objects.count() == 1
    # Another address is not limited.
    assert _client("198.51.100.9").get(_bad_link()).status_code == 404


def test_behind_the_proxy_the_forwarded_address_is_limited(settings):
    settings.BEHIND_PROXY = True
    for _request in range(source_windows.BAD_LINKS_PER_SOURCE):
        _client("127.0.0.1").get(_bad_link(), HTTP_X_FORWARDED_FOR=ADDRESS)
    limited = _client("127.0.0.1").get(_bad_link(), HTTP_X_FORWARDED_FOR=ADDRESS)
    other = _client("127.0.0.1").get(_bad_link(), HTTP_X_FORWARDED_FOR="198.51.100.9")
    assert (limited.status_code, other.status_code) == (429, 404)


def test_sos_from_many_links_of_one_address_are_all_recorded_in_one_flood():
    people = [PersonFactory() for _ in range(source_windows.SOS_PER_SOURCE + 2)]
    links = [
        checkin_links.link_path(checkin_links.link_issue(actor=None, person=person))
        for person in people
    ]
    client = _client()
    answers = [client.post(link, {"action": "sos"}) for link in links]
    assert {r.status_code for r in answers} == {200}
    assert len({r.content for r in answers}) == 1  # the page answers the same way
    assert Alert.objects.count() == len(people)
    flood = Emergency.objects.get(source=EmergencySource.SOS_FLOOD)
    assert flood.people.count() == 2
