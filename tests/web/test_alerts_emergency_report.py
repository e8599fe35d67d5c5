"""The response-time report: time to acknowledge and to on site, by month of the call."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from refuge.alerts import selectors_emergencies as selectors
from refuge.alerts.models import Emergency, EmergencyState
from refuge.core.errors import NotFoundError
from tests.web.test_alerts_emergency import open_call

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 20, 9, 0, tzinfo=dt.UTC)
FEBRUARY = dt.datetime(2026, 2, 10, 12, 0, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)
# (minutes to acknowledge, minutes to on site or None) of five calls in February.
FEBRUARY_CALLS = [(1, 30), (3, 45), (10, 25), (20, None), (90, None)]


def _past_call(cast, reported_at: dt.datetime, ack: int | None, site: int | None) -> Emergency:
    emergency = open_call(cast)
    Emergency.objects.filter(pk=emergency.pk).update(
        reported_at=reported_at,
        opened_at=reported_at,
        acknowledged_at=reported_at + ack * MINUTE if ack is not None else None,
        on_site_at=reported_at + site * MINUTE if site is not None else None,
        state=EmergencyState.RESOLVED,  # so that the next call opens a new emergency
    )
    return emergency


@pytest.fixture
def history(cast):
    with time_machine.travel(NOW, tick=False):
        for day, (ack, site) in enumerate(FEBRUARY_CALLS):
            _past_call(cast, FEBRUARY + dt.timedelta(days=day), ack, site)
        _past_call(cast, dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC), 2, None)
        _past_call(cast, dt.datetime(2026, 3, 3, 8, 0, tzinfo=dt.UTC), None, None)
        _past_call(cast, dt.datetime(2024, 1, 1, 8, 0, tzinfo=dt.UTC), 1, 1)  # out of the window


def test_the_report_counts_medians_p90_and_maxima_per_month(cast, history):
    with time_machine.travel(NOW, tick=False):
        march, february = selectors.emergency_report(actor=cast.coordinator)
    assert (march.month, february.month) == (dt.date(2026, 3, 1), dt.date(2026, 2, 1))
    assert (march.emergencies, march.to_acknowledge.count, march.to_on_site.count) == (2, 1, 0)
    ack = february.to_acknowledge
    assert (february.emergencies, ack.count) == (5, 5)
    assert (ack.median, ack.p90, ack.maximum) == (10 * MINUTE, 90 * MINUTE, 90 * MINUTE)
    site = february.to_on_site
    assert (site.count, site.median, site.p90, site.maximum) == (
        3,
        30 * MINUTE,
        45 * MINUTE,
        45 * MINUTE,
    )


def test_the_histogram_buckets_the_times(cast, history):
    with time_machine.travel(NOW, tick=False):
        february = selectors.emergency_report(actor=cast.coordinator)[1]
    assert [b.count for b in february.to_acknowledge.buckets] == [0, 2, 1, 1, 0, 1]
    # A bucket includes its lower bound: 30 minutes exactly counts as "30–60 min".
    assert [b.count for b in february.to_on_site.buckets] == [0, 0, 0, 1, 2, 0]


def test_an_even_count_has_the_mean_of_the_middle_two_as_median():
    dist = selectors.distribution([MINUTE, 3 * MINUTE])
    assert dist.median == 2 * MINUTE
    assert dist.p90 == 3 * MINUTE


def test_an_empty_distribution_has_no_numbers():
    dist = selectors.distribution([])
    assert (dist.count, dist.median, dist.p90, dist.maximum) == (0, None, None, None)


def test_the_report_page_shows_the_numbers(cast, login, history):
    with time_machine.travel(NOW, tick=False):
        response = login(cast.operator).get("/alerts/report/")
    body = response.content.decode()
    assert response.status_code == 200
    assert "February 2026" in body
    assert "March 2026" in body
    assert "10 min 00 s" in body
    assert "1 h 30 min" in body
    assert "<meter" in body
    assert " style=" not in body
    assert "<script>" not in body


def test_the_window_is_chosen_in_months(cast, login, history):
    with time_machine.travel(NOW, tick=False):
        body = login(cast.coordinator).get("/alerts/report/?months=1").content.decode()
        wide = login(cast.coordinator).get("/alerts/report/?months=36").content.decode()
        junk = login(cast.coordinator).get("/alerts/report/?months=x").status_code
    assert "March 2026" in body
    assert "February 2026" not in body
    assert "January 2024" in wide
    assert junk == 200


@pytest.mark.parametrize("role", ["caseworker", "lawyer", "outsider", "analyst", "admin"])
def test_only_the_line_sees_the_report(role, cast, login):
    page = login(cast.by_role()[role]).get("/alerts/report/")
    assert page.status_code == 403
    assert "for the emergency line: hotline operators and coordinators" in page.content.decode()
    with pytest.raises(NotFoundError):
        selectors.emergency_report(actor=cast.by_role()[role])
