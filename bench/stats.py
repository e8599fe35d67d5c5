"""Metric records and the percentiles they report."""

from __future__ import annotations

import platform
import statistics
from collections.abc import Sequence
from typing import Any, TypedDict

import django
from django.db import connection

from bench.scale import Scale


class Metric(TypedDict):
    name: str
    value: float
    unit: str
    context: dict[str, Any]


def p50(samples: Sequence[float]) -> float:
    return statistics.median(samples)


def p95(samples: Sequence[float]) -> float:
    if len(samples) < 2:
        raise ValueError("a 95th percentile needs at least two samples")
    # Inclusive method: the value interpolated between the observed samples, never beyond them.
    return statistics.quantiles(samples, n=20, method="inclusive")[18]


def p99(samples: Sequence[float]) -> float:
    if len(samples) < 2:
        raise ValueError("a 99th percentile needs at least two samples")
    return statistics.quantiles(samples, n=100, method="inclusive")[98]


def context(scale: Scale, *, repetitions: int, **extra: Any) -> dict[str, Any]:
    return {
        "scale": scale.name,
        "db_vendor": connection.vendor,
        "n": scale.n,
        "repetitions": repetitions,
        "python": platform.python_version(),
        "django": django.get_version(),
        **extra,
    }


def metric(name: str, value: float, unit: str, ctx: dict[str, Any]) -> Metric:
    return {"name": name, "value": round(value, 4), "unit": unit, "context": ctx}
