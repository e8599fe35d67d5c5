"""`python -m bench` (`make bench`): set up the benchmark database, run, report.

BENCH_SCALE=small (default: 10,000 on SQLite) or full (1,000,000 on PostgreSQL from DATABASE_URL);
BENCH_N, BENCH_REPETITIONS and BENCH_SCHEDULES override the scale's sizes; BENCH_ONLY=cases|alerts
runs one group; BENCH_KEEP=1 keeps the database.
"""

from __future__ import annotations

import sys
import time


def _run() -> int:
    from bench.environment import bench_environment
    from bench.scale import SCALE_DATABASES, groups_from_env, scale_from_env

    scale = scale_from_env()
    groups = groups_from_env()
    with bench_environment(SCALE_DATABASES[scale.name]) as target:
        started = time.perf_counter()
        print(
            f"Refuge benchmarks ({', '.join(groups)}), scale {scale.name} (n={scale.n:,}, "
            f"{scale.schedules:,} check-in schedules) on {target.description}"
        )
        import django
        from django.core.management import call_command

        django.setup()
        print("Migrating the benchmark database", flush=True)
        call_command("migrate", interactive=False, verbosity=0)

        from bench import runner
        from bench.caselist import BenchmarkError

        try:
            metrics = runner.run(
                scale, progress=lambda line: print(line, flush=True), groups=groups
            )
        except BenchmarkError as error:
            print(f"bench: {error}", file=sys.stderr)
            return 1
        path = runner.write_results(metrics)
        print()
        print(runner.table(metrics))
        print()
        print(f"Wrote {path} in {time.perf_counter() - started:.0f} s.")
        if target.keep:
            print(f"Kept (BENCH_KEEP=1): {target.description}; key and data in {target.var_dir}")
    return 0


def main() -> int:
    from bench.environment import SetupError
    from bench.scale import ScaleError

    try:
        return _run()
    except (ScaleError, SetupError) as error:
        print(f"bench: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
