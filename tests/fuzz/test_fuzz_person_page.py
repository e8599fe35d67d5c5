"""The protected person's page: any token in the URL and any form values get the page, the
neutral 400 or the neutral 404 (429 once an address has tried too many links), never a server
error; a refused form records no accepted check-in and raises no SOS."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from django.test import Client
from hypothesis import given
from hypothesis import strategies as st

from refuge.alerts.models import Checkin, Emergency, EmergencySource
from refuge.alerts.services import checkin_links
from tests.alerts.conftest import falcon_schedule  # noqa: F401 - FALCON's schedule and PINs
from tests.fuzz.conftest import FUZZ

pytestmark = pytest.mark.django_db

NO_SURROGATES = st.text(alphabet=st.characters(codec="utf-8"), max_size=80)


@pytest.fixture
def page(cast, falcon_schedule) -> str:  # noqa: F811
    return checkin_links.link_path(checkin_links.link_issue(actor=None, person=cast.falcon))


@FUZZ
@given(token=st.one_of(NO_SURROGATES, st.sampled_from(["..", "%00", "a" * 500, "\x00"])))
def test_any_token_gets_the_neutral_404_or_the_page(page, token):
    client = Client()
    reference = client.get("/c/not-a-token-at-all/")
    response = client.get(f"/c/{quote(token, safe='')}/")
    # 429: this client's address tried too many links that open nothing (the same page).
    assert response.status_code in {200, 404, 429}
    if response.status_code in {404, 429} and token and "/" not in token:
        assert response.content == reference.content


@FUZZ
@given(
    action=st.one_of(st.sampled_from(["checkin", "cancel", ""]), NO_SURROGATES),
    pin=st.one_of(st.from_regex(r"[0-9]{0,10}", fullmatch=True), NO_SURROGATES),
)
def test_any_form_values_get_the_page_or_the_neutral_400(page, action, pin):
    # Attempts refused while the schedule is locked out are recorded as such, on purpose.
    accepted = Checkin.objects.exclude(outcome=Checkin.Outcome.LOCKED)
    checkins_before = accepted.count()
    sos_before = Emergency.objects.filter(source=EmergencySource.SOS).count()
    response = Client().post(page, {"action": action, "pin": pin})
    assert response.status_code in {200, 400}
    if response.status_code == 400:
        assert accepted.count() == checkins_before
        assert Emergency.objects.filter(source=EmergencySource.SOS).count() == sos_before


@FUZZ
@given(
    body=st.binary(max_size=300),
    content_type=st.sampled_from(
        ["application/json", "text/plain", "multipart/form-data; boundary=x"]
    ),
)
def test_any_raw_body_gets_a_clean_answer(page, body, content_type):
    response = Client().post(page, body, content_type=content_type)
    assert response.status_code in {200, 400}
