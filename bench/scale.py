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
    # The emergency line (bench.missed, bench.emergency_line).
    schedules: int = 100_000  # check-in schedules behind the missed-check-in ticks
    missed_due: int = 1_000  # of them, how many fall due while the ticks are measured
    missed_spread_s: float = 20.0  # their alert_at times are spread evenly over this window
    tick_every_s: float = 2.0  # the poll between ticks when nothing is due sooner (the default)
    idle_ticks: int = 30  # ticks timed with nothing due
    sos: int = 200  # SOS posted to the web server, one person each
    sos_senders: int = 50  # SOS sent at once in each round (threads at a barrier)
    operator_calls: int = 5  # operator calls logged through the API alongside each round
    sos_timeout_s: float = 180.0  # the SOS run gives up waiting for e-mail after this long
    burst: int = 1_000  # check-ins missed at the same moment (bench.burst)
    burst_busy: int = 50  # of them, people already in an open emergency (their alerts join)
    burst_timeout_s: float = 60.0  # the burst gives up waiting for e-mail after this long
    checkin_clients: int = 8  # concurrent check-in clients (threads)
    checkin_seconds: float = 10.0  # duration of the check-in run, and of the floor run


SCALES = {
    "small": Scale(name="small", n=10_000, repetitions=50, roundtrips=1_000, batch_size=5_000),
    "full": Scale(
        name="full",
        n=1_000_000,
        repetitions=50,
        roundtrips=2_000,
        batch_size=5_000,
        schedules=1_000_000,
    ),
}
# BENCH_ONLY: which group of benchmarks to run (all of them when unset).
GROUPS = ("cases", "alerts", "evidence")
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


def groups_from_env() -> tuple[str, ...]:
    """BENCH_ONLY=cases|alerts|evidence runs one group (or a comma-separated list); unset (or
    "all") runs every group."""
    raw = os.environ.get("BENCH_ONLY", "").strip().lower()
    if raw in {"", "all"}:
        return GROUPS
    chosen = tuple(part.strip() for part in raw.split(",") if part.strip())
    unknown = [part for part in chosen if part not in GROUPS]
    if unknown or not chosen:
        raise ScaleError(f"BENCH_ONLY must be one of {', '.join(GROUPS)}, not {raw!r}")
    return tuple(group for group in GROUPS if group in chosen)


def scale_from_env() -> Scale:
    """BENCH_SCALE=small|full, with optional BENCH_N, BENCH_REPETITIONS and BENCH_SCHEDULES
    overrides."""
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
    schedules = _int_at_least("BENCH_SCHEDULES", 2 * scale.missed_due)
    if schedules is not None:
        scale = replace(scale, schedules=schedules)
    return scale
