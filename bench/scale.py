"""How big a benchmark run is. `small` and `full` are what `make bench` runs; the smoke test
builds its own tiny Scale so the same code runs in-process against the pytest database."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Scale:
    name: str
    n: int  # protected people, and as many cases
    repetitions: int  # timed requests (and raw queries) per list/search metric
    roundtrips: int  # records saved and reloaded per round-trip throughput metric
    batch_size: int  # generator batch: people and cases per transaction


SCALES = {
    "small": Scale(name="small", n=10_000, repetitions=50, roundtrips=1_000, batch_size=5_000),
    "full": Scale(name="full", n=1_000_000, repetitions=50, roundtrips=2_000, batch_size=5_000),
}
# Which database each scale runs on (bench.environment sets it up and tears it down).
SCALE_DATABASES = {"small": "sqlite", "full": "postgresql"}


class ScaleError(Exception):
    """BENCH_* environment variables that make no sense."""


def _int_at_least(name: str, minimum: int) -> int | None:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        value = int(raw.replace("_", ""))
    except ValueError:
        raise ScaleError(f"{name} must be a whole number, not {raw!r}") from None
    if value < minimum:
        raise ScaleError(f"{name} must be at least {minimum}, not {value}")
    return value


def scale_from_env() -> Scale:
    """BENCH_SCALE=small|full, with optional BENCH_N and BENCH_REPETITIONS overrides."""
    name = os.environ.get("BENCH_SCALE", "small").strip().lower() or "small"
    if name not in SCALES:
        raise ScaleError(f"BENCH_SCALE must be one of {', '.join(SCALES)}, not {name!r}")
    scale = SCALES[name]
    n = _int_at_least("BENCH_N", 2)
    if n is not None:
        scale = replace(scale, n=n)
    repetitions = _int_at_least("BENCH_REPETITIONS", 2)  # a percentile needs two samples
    if repetitions is not None:
        scale = replace(scale, repetitions=repetitions)
    return scale
