"""Refuge's benchmark suite: `make bench` (or `python -m bench`).

Benchmarks are not tests: they run against a dedicated database filled by bench.generate, time the
case list, the case search and the encrypted-field round trip, and write bench/results/latest.json.
Timing targets are judged here, never in the unit tests. See bench/README.md.
"""
