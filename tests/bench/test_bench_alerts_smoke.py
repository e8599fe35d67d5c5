"""The missed-check-in benchmark runs end to end at a tiny scale against the test database.

Only that it runs and reports its figures is checked here, never how fast anything was. The
server-based emergency-line benchmarks (gunicorn, `refuge worker`, an SMTP sink) are not run in
the test suite: starting them takes longer than a smoke test should; `make bench` runs them.
"""

from __future__ import annotations

import pytest

from bench import missed, scale
from refuge.alerts.models import Alert, EmergencySource

TINY = scale.Scale(
    name="smoke",
    n=200,
    repetitions=3,
    roundtrips=3,
    batch_size=80,
    schedules=120,
    missed_due=12,
    missed_spread_s=0.5,
    tick_every_s=0.2,
    idle_ticks=3,
)
METRIC_NAMES = {
    "missed_checkin_lag_p99_ms",
    "missed_checkin_tick_ms",
    "missed_checkin_idle_tick_ms",
}
CONTEXT_KEYS = {"scale", "db_vendor", "n", "repetitions", "python", "django"}


@pytest.mark.django_db
def test_the_missed_checkin_benchmark_reports_positive_figures() -> None:
    lines: list[str] = []

    metrics = missed.measure(TINY, progress=lines.append)

    assert {m["name"] for m in metrics} == METRIC_NAMES
    assert len(metrics) == len(METRIC_NAMES)
    for m in metrics:
        assert m["value"] > 0, m["name"]
        assert set(m["context"]) >= CONTEXT_KEYS, m["name"]
    lag = next(m for m in metrics if m["name"] == "missed_checkin_lag_p99_ms")
    assert lag["context"]["schedules"] == TINY.schedules
    assert lag["context"]["raised"] == TINY.missed_due
    assert Alert.objects.filter(source=EmergencySource.MISSED_CHECKIN).count() == TINY.missed_due
    assert any("scheduled 120/120" in line for line in lines)
