"""A duress check-in takes as long as a normal one: over many interleaved trials on the page,
the difference of mean response times is not statistically significant (Welch's t-test).

Both PINs run the same code path (alerts.services.checkins): the duress alert is raised by the
worker's tick, not on the request path. A systematic difference of even a fraction of a
millisecond would show here; a chance one is ruled out by asking for significance twice.
"""

from __future__ import annotations

import math
import statistics
import time

import pytest
from django.test import Client

from refuge.alerts.models import Checkin
from tests.alerts.conftest import DURESS_PIN, NORMAL_PIN

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

TRIALS = 200
WARM_UP = 20
ALPHA = 0.001


def welch(a: list[float], b: list[float]) -> tuple[float, float]:
    """Welch's t statistic and its two-sided p-value (normal approximation: with ~400 samples
    the t distribution's degrees of freedom are in the hundreds)."""
    var_a, var_b = statistics.variance(a) / len(a), statistics.variance(b) / len(b)
    t = (statistics.fmean(a) - statistics.fmean(b)) / math.sqrt(var_a + var_b)
    return t, math.erfc(abs(t) / math.sqrt(2))


def test_welch_detects_a_real_difference_and_not_a_null_one():
    same = [1.0 + (i % 7) * 0.01 for i in range(200)]
    assert welch(same, list(reversed(same)))[1] > ALPHA
    shifted = [x + 0.02 for x in same]
    assert welch(same, shifted)[1] < ALPHA


def _round(client: Client, path: str) -> tuple[list[float], list[float]]:
    timings: dict[str, list[float]] = {NORMAL_PIN: [], DURESS_PIN: []}
    for i in range(TRIALS * 2):
        # Interleaved (ABBA), so drift (caches, a growing table) hits both alike.
        pin = (NORMAL_PIN, DURESS_PIN, DURESS_PIN, NORMAL_PIN)[i % 4]
        started = time.perf_counter()
        response = client.post(path, {"action": "checkin", "pin": pin})
        timings[pin].append(time.perf_counter() - started)
        assert response.status_code == 200
    return timings[NORMAL_PIN], timings[DURESS_PIN]


def test_duress_and_normal_check_ins_take_the_same_time(client: Client, falcon_link: str):
    for i in range(WARM_UP):
        client.post(falcon_link, {"action": "checkin", "pin": (NORMAL_PIN, DURESS_PIN)[i % 2]})
    results = []
    for _ in range(2):
        normal, duress = _round(client, falcon_link)
        t, p = welch(normal, duress)
        results.append((t, p))
        print(  # noqa: T201 - the figures go into the test output
            f"duress timing: normal mean {statistics.fmean(normal) * 1e3:.3f} ms "
            f"(sd {statistics.stdev(normal) * 1e3:.3f}), duress mean "
            f"{statistics.fmean(duress) * 1e3:.3f} ms (sd {statistics.stdev(duress) * 1e3:.3f}), "
            f"n={len(normal)}+{len(duress)}, t={t:.2f}, p={p:.4f}"
        )
        if p >= ALPHA:
            break
    assert any(p >= ALPHA for _t, p in results), results
    assert Checkin.objects.filter(under_duress=True).count() >= TRIALS
