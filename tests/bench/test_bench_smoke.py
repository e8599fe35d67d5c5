"""The benchmark code runs end to end at a tiny scale against the test database.

Only that it runs and reports every figure is checked here; how fast anything is, is judged by
`make bench`, never by the test suite.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from pytest_django import DjangoDbBlocker

from bench import roundtrip, runner, scale

TINY = scale.Scale(name="smoke", n=200, repetitions=3, roundtrips=3, batch_size=80)
METRIC_NAMES = {
    "generate_seconds",
    "generate_rows_per_s",
    "case_list_p50_ms",
    "case_list_p95_ms",
    "case_list_raw_sql_p50_ms",
    "case_list_raw_sql_p95_ms",
    "case_list_raw_sql_ratio",
    "case_search_p50_ms",
    "case_search_p95_ms",
    "case_search_raw_sql_p50_ms",
    "case_search_raw_sql_p95_ms",
    "case_search_raw_sql_ratio",
    "encrypted_roundtrip_records_per_s",
    "plaintext_roundtrip_records_per_s",
    "encrypted_field_roundtrip_ratio",
}
CONTEXT_KEYS = {"scale", "db_vendor", "n", "repetitions", "python", "django"}


@pytest.fixture(scope="module")
def plaintext_table(django_db_setup: None, django_db_blocker: DjangoDbBlocker) -> Iterator[None]:
    """The plaintext twin's table, created before the test's transaction begins: SQLite's schema
    editor refuses to run inside one."""
    with django_db_blocker.unblock(), roundtrip.plaintext_table():
        yield


@pytest.mark.django_db
def test_every_benchmark_reports_a_positive_figure(plaintext_table: None, tmp_path):
    lines: list[str] = []

    metrics = runner.run(TINY, progress=lines.append, groups=("cases",))

    names = [m["name"] for m in metrics]
    assert sorted(names) == sorted(METRIC_NAMES)
    for m in metrics:
        assert m["value"] > 0, m["name"]
        assert set(m["context"]) >= CONTEXT_KEYS, m["name"]
        assert m["context"]["n"] == TINY.n
    assert any("generated 200/200" in line for line in lines)
    written = runner.write_results(metrics, tmp_path / "latest.json")
    assert json.loads(written.read_text(encoding="utf-8")) == metrics
    assert "case_list_raw_sql_ratio" in runner.table(metrics)


@pytest.mark.django_db
def test_generated_data_keys_are_time_ordered_like_refuges_own():
    from bench.generate import _KeyMaker

    keys = _KeyMaker()
    first = keys.make("record")
    time.sleep(0.002)  # within a millisecond, ids are random
    second = keys.make("record")
    assert first.pk.version == 7
    assert first.pk < second.pk
