"""Runs every benchmark against the configured database and reports the figures.

`run()` is what `python -m bench` calls once Django points at the benchmark database, and what the
smoke test calls in-process at a tiny scale against the pytest database.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

from django.db import connection

from bench import caselist, roundtrip
from bench.generate import generate
from bench.scale import GROUPS, Scale
from bench.stats import Metric, context, metric

Progress = Callable[[str], None]
RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"


def analyze() -> None:
    """Give the query planner statistics, as any database that has been running a while has;
    on PostgreSQL also write the bulk load out (CHECKPOINT), so that the timings that follow do
    not run beside a checkpoint of gigabytes the generator left behind."""
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
        if connection.vendor == "postgresql":
            cursor.execute("CHECKPOINT")


def run(
    scale: Scale, *, progress: Progress = print, groups: Sequence[str] = GROUPS
) -> list[Metric]:
    """The benchmarks of `groups` ("cases", "alerts", "evidence"), in that order."""
    metrics: list[Metric] = []
    if "cases" in groups:
        metrics += run_cases(scale, progress=progress)
    if "alerts" in groups:
        metrics += run_alerts(scale, progress=progress)
    if "evidence" in groups:
        metrics += run_evidence(scale, progress=progress)
    return metrics


def run_evidence(scale: Scale, *, progress: Progress = print) -> list[Metric]:
    """A 200 MB evidence upload through the real upload handler, and its download."""
    from bench import evidence

    progress("Timing evidence intake and download")
    return evidence.measure(scale, progress)


def run_alerts(scale: Scale, *, progress: Progress = print) -> list[Metric]:
    """The emergency line: SOS and check-ins through a real web server and worker first (they
    need a quiet database and worker), then the missed-check-in ticks in this process."""
    from bench import emergency_line, missed

    progress("Timing SOS to e-mail and check-ins on a real web server")
    metrics = emergency_line.measure(scale, progress)
    progress("Timing missed check-in detection")
    metrics += missed.measure(scale, progress)
    return metrics


def run_cases(scale: Scale, *, progress: Progress = print) -> list[Metric]:
    progress(f"Generating {scale.n:,} people and {scale.n:,} cases ({connection.vendor})")
    dataset = generate(scale.n, batch_size=scale.batch_size, progress=progress)
    analyze()
    ctx = context(scale, repetitions=1, rows=dataset.rows, teams=dataset.teams)
    metrics = [
        metric("generate_seconds", dataset.seconds, "s", ctx),
        metric("generate_rows_per_s", sum(dataset.rows.values()) / dataset.seconds, "rows/s", ctx),
    ]
    progress("Timing the case list and search pages")
    metrics += caselist.measure(dataset, scale, progress)
    progress("Timing encrypted and plaintext round trips")
    metrics += roundtrip.measure(scale, progress)
    return metrics


def write_results(metrics: Sequence[Metric], path: Path = RESULTS) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(list(metrics), indent=2) + "\n", encoding="utf-8")
    return path


def _figure(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def table(metrics: Sequence[Metric]) -> str:
    width = max(len(m["name"]) for m in metrics)
    lines = [f"{'metric'.ljust(width)}  {'value':>12}  unit", "-" * (width + 26)]
    lines += [f"{m['name'].ljust(width)}  {_figure(m['value']):>12}  {m['unit']}" for m in metrics]
    return "\n".join(lines)
