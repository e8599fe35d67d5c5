"""The protected person's SOS and check-in page: what it shows, what it reveals (nothing), and
that a duress check-in is byte-for-byte a normal one."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from refuge.alerts.models import Alert, Checkin, CheckinSchedule, Emergency, EmergencySource
from refuge.alerts.services import checkin_links
from refuge.people.models import ProtectedPerson
from tests.alerts.conftest import CALL_TIME, DURESS_PIN, NORMAL_PIN
from tests.conftest import FALCON_NAME, FALCON_PHONE, FLAT_ADDRESS, Cast

pytestmark = pytest.mark.django_db

STATIC = Path(settings.PACKAGE_DIR) / "static"
PAGE_BUDGET = 15 * 1024


def _post(client: Client, path: str, **data: str):  # type: ignore[no-untyped-def]
    return client.post(path, data)


def _stylesheets(html: str) -> list[str]:
    return re.findall(r'<link rel="stylesheet" href="([^"]+)"', html)


def test_the_page_shows_an_sos_button_and_a_check_in_form(client: Client, falcon_link: str):
    response = client.get(falcon_link)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count("<form") == 2
    assert 'name="action" value="sos"' in html
    assert 'name="action" value="checkin"' in html
    assert 'type="password"' in html
    assert "<script" not in html
    assert "style=" not in html  # the CSP forbids inline styles
    assert "<style" not in html


def test_the_page_reveals_nothing_about_the_person_or_the_organisation(
    client: Client, cast: Cast, falcon_link: str
):
    html = client.get(falcon_link).content.decode()
    for secret in (FALCON_NAME, FALCON_PHONE, FLAT_ADDRESS, "FALCON", "Falcon", "Refuge", "refuge"):
        assert secret not in html
    assert "<title>Notes</title>" in html or "<title>Заметки</title>" in html
    assert 'href="/' not in html.replace('href="/static/intake/', "")  # no staff links


def test_the_title_is_the_neutral_word_from_the_settings(
    client: Client, falcon_link: str, settings
):
    settings.PUBLIC_SITE_TITLE = "Recipes"
    html = client.get(falcon_link).content.decode()
    assert "<title>Recipes</title>" in html


def test_the_page_follows_the_persons_language_not_the_browsers(
    client: Client, cast: Cast, falcon_link: str
):
    ProtectedPerson.objects.filter(pk=cast.falcon.pk).update(languages="ce,ru")
    russian = client.get(falcon_link, HTTP_ACCEPT_LANGUAGE="en")
    assert russian["Content-Language"] == "ru"
    assert '<html lang="ru">' in russian.content.decode()
    ProtectedPerson.objects.filter(pk=cast.falcon.pk).update(languages="en")
    english = client.get(falcon_link, HTTP_ACCEPT_LANGUAGE="ru")
    assert english["Content-Language"] == "en"
    assert "Check in" in english.content.decode()


def test_the_page_sets_no_cookie_and_is_never_cached_or_referred(client: Client, falcon_link: str):
    for response in (
        client.get(falcon_link),
        _post(client, falcon_link, action="checkin", pin=NORMAL_PIN),
        _post(client, falcon_link, action="sos"),
    ):
        assert not response.cookies
        assert response["Cache-Control"] == "no-store"
        assert response["Referrer-Policy"] == "no-referrer"
        assert "'unsafe-inline'" not in response["Content-Security-Policy"]


def test_page_weight_is_under_15_kb(client: Client, falcon_link: str):
    html = client.get(falcon_link).content
    sheets = _stylesheets(html.decode())
    assert sheets == ["/static/intake/page.css"]
    css = (STATIC / "intake" / "page.css").read_bytes()
    total = len(html) + len(css)
    figures = f"html {len(html)} B + css {len(css)} B = {total} B (budget {PAGE_BUDGET})"
    print(f"page weight: {figures}")  # noqa: T201 - the figures go into the test output
    assert total <= PAGE_BUDGET


@pytest.mark.parametrize(
    "token",
    ["", "x", "A" * 43, "../../etc/passwd", "%00", "a" * 500],
)
def test_unknown_tokens_get_the_same_neutral_404(client: Client, falcon_link: str, token: str):
    reference = client.get("/c/" + secrets.token_urlsafe(32) + "/")
    assert reference.status_code == 404
    if not token or "/" in token:
        return  # not a token-shaped path: the site's own 404, not this page
    response = client.get(f"/c/{token}/")
    assert response.status_code == 404
    assert response.content == reference.content
    posted = client.post(f"/c/{token}/", {"action": "sos"})
    assert posted.status_code == 404
    assert posted.content == reference.content
    assert not Alert.objects.exists()


def test_a_revoked_link_gets_the_same_404(client: Client, cast: Cast, falcon_link: str):
    reference = client.get("/c/" + secrets.token_urlsafe(32) + "/").content
    checkin_links.link_issue(actor=None, person=cast.falcon)  # re-issued: the old one is revoked
    response = client.get(falcon_link)
    assert response.status_code == 404
    assert response.content == reference
    assert FALCON_NAME not in response.content.decode()


def test_sos_raises_a_top_priority_emergency_and_answers_calmly(
    client: Client, cast: Cast, falcon_link: str
):
    response = _post(client, falcon_link, action="sos")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Received" in html
    assert 'value="cancel"' in html
    emergency = Emergency.objects.get()
    assert emergency.source == EmergencySource.SOS
    assert list(emergency.people.all()) == [cast.falcon]


def test_a_check_in_thanks_and_shows_the_next_deadline_in_the_persons_zone(
    client: Client, cast: Cast, at_call_time, falcon_link: str
):
    ProtectedPerson.objects.filter(pk=cast.falcon.pk).update(languages="en")
    response = _post(client, falcon_link, action="checkin", pin=NORMAL_PIN)
    assert response.status_code == 200
    # 24 h after 12:00 UTC on Tuesday 10 March is 15:00 in Moscow on Wednesday 11 March; an
    # interval schedule counts check-ins over the whole interval by default.
    assert (
        "Thank you. Next check-in: from 15:00 (Tuesday, 10 March) to 15:00 (Wednesday, 11 March)."
        in response.content.decode()
    )
    assert Checkin.objects.get().channel == "web"


def test_the_deadline_is_spelled_out_in_russian_for_a_russian_speaker(
    client: Client, cast: Cast, at_call_time, falcon_link: str
):
    ProtectedPerson.objects.filter(pk=cast.falcon.pk).update(languages="ru")
    response = _post(client, falcon_link, action="checkin", pin=NORMAL_PIN)
    assert response["Content-Language"] == "ru"
    page = response.content.decode()
    assert (
        "Спасибо. Следующая отметка: с 15:00 (вторник, 10 марта) до 15:00 (среда, 11 марта)."
        in page
    )


def test_normal_and_duress_check_ins_get_byte_identical_responses(
    client: Client, cast: Cast, at_call_time, falcon_link: str
):
    normal = _post(client, falcon_link, action="checkin", pin=NORMAL_PIN)
    duress = _post(client, falcon_link, action="checkin", pin=DURESS_PIN)
    assert normal.status_code == duress.status_code == 200
    assert normal.content == duress.content
    assert dict(normal.headers) == dict(duress.headers)
    assert not normal.cookies
    assert not duress.cookies
    assert [c.under_duress for c in Checkin.objects.order_by("under_duress")] == [False, True]


def test_normal_and_duress_cancels_get_byte_identical_responses(
    client: Client, cast: Cast, at_call_time, falcon_link: str
):
    _post(client, falcon_link, action="sos")
    normal = _post(client, falcon_link, action="cancel", pin=NORMAL_PIN)
    _post(client, falcon_link, action="sos")
    duress = _post(client, falcon_link, action="cancel", pin=DURESS_PIN)
    assert normal.status_code == duress.status_code == 200
    assert normal.content == duress.content
    assert Emergency.objects.filter(state="open").count() == 1  # the duress one stays


@pytest.mark.parametrize(
    "data",
    [
        {"action": "checkin", "pin": "0000"},
        {"action": "checkin", "pin": "12"},
        {"action": "checkin", "pin": "x" * 5000},
        {"action": "checkin"},
        {"action": "cancel", "pin": "0000"},
        {"action": "dance"},
        {},
    ],
)
def test_bad_input_gets_the_same_neutral_400(client: Client, falcon_link: str, data):
    reference = _post(client, falcon_link, action="checkin", pin="9999")
    response = client.post(falcon_link, data)
    assert response.status_code == 400
    assert response.content == reference.content
    assert not Checkin.objects.exists()
    assert not Emergency.objects.exists()


def test_the_lockout_tells_the_person_that_check_ins_here_are_paused(
    client: Client, at_call_time, falcon_link: str
):
    wrong = [_post(client, falcon_link, action="checkin", pin="0000") for _ in range(5)]
    locked = _post(client, falcon_link, action="checkin", pin=NORMAL_PIN)
    assert {r.status_code for r in [*wrong, locked]} == {400}
    assert len({r.content for r in wrong[:4]}) == 1  # wrong PINs: "Not accepted"
    assert wrong[4].content == locked.content  # the fifth locks; the right PIN is then refused
    html = locked.content.decode()
    assert "Check-ins on this page are paused after several wrong PINs." in html
    assert "Contact your team another way. The SOS button still works." in html
    assert 'value="sos"' in html
    assert 'value="checkin"' not in html  # no PIN form while paused
    assert CheckinSchedule.objects.get().locked_until == CALL_TIME + dt.timedelta(minutes=30)


def test_other_methods_are_refused(client: Client, falcon_link: str):
    assert client.put(falcon_link).status_code == 405
    assert client.delete(falcon_link).status_code == 405


def test_the_stylesheet_is_served_same_origin(client: Client):
    response = client.get("/static/intake/page.css")
    assert response.status_code == 200
    body = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    assert b"url(" not in body  # no fonts or images from anywhere
    assert b"@import" not in body
