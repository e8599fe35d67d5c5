"""The evidence benchmark runs end to end at a tiny size against the test database. Only that it
runs and reports its figures is checked; speed and memory are judged by `make bench`."""

from __future__ import annotations

import pytest

from bench import evidence, scale

pytestmark = pytest.mark.django_db

TINY = scale.Scale(name="smoke", n=2, repetitions=2, roundtrips=2, batch_size=2)


def test_the_evidence_benchmark_reports_every_figure(settings):
    settings.ALLOWED_HOSTS = ["testserver"]
    metrics = evidence.measure(TINY, lambda line: None, large=3 * evidence.MIB, small=evidence.MIB)
    assert {m["name"] for m in metrics} == {
        "evidence_upload_mb_per_s",
        "evidence_download_mb_per_s",
        "evidence_upload_peak_mib",
        "evidence_upload_small_peak_mib",
        "evidence_upload_memory_ratio",
    }
    assert all(m["value"] > 0 for m in metrics)


def test_evidence_is_a_benchmark_group():
    assert "evidence" in scale.GROUPS
