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
