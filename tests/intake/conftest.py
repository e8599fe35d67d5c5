"""Fixtures of the protected person's channels: FALCON with a schedule, PINs and a link."""

from __future__ import annotations

import pytest

from refuge.alerts.services import checkin_links
from tests.alerts.conftest import (  # noqa: F401 - fixtures shared with the alerts tests
    at_call_time,
    falcon_schedule,
)
from tests.conftest import Cast


@pytest.fixture
def falcon_link(cast: Cast, falcon_schedule) -> str:  # noqa: F811
    """The path of FALCON's personal page."""
    token = checkin_links.link_issue(actor=None, person=cast.falcon)
    return checkin_links.link_path(token)


@pytest.fixture(autouse=True)
def _falcon_reads_english(request: pytest.FixtureRequest) -> None:
    """The texts these tests expect are English, and FALCON's page and replies follow his own
    language (Russian in the cast); the tests about language set it explicitly."""
    if "cast" not in request.fixturenames:
        return
    from refuge.people.models import ProtectedPerson

    cast = request.getfixturevalue("cast")
    ProtectedPerson.objects.filter(pk=cast.falcon.pk).update(languages="en")
    cast.falcon.languages = "en"
