"""Four worker processes share 1,000 overdue check-ins on PostgreSQL: exactly 1,000 alerts, none
raised twice (each schedule is claimed by one worker: SELECT ... FOR UPDATE SKIP LOCKED) and
none skipped. Runs against a fresh database, as separate processes would on separate machines.

SQLite has a single worker by design (its writers are serialised), so the test is skipped there.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCHEDULES = 1000
WORKERS = 4


def _postgres_url() -> str | None:
    url = os.environ.get("REFUGE_DATABASE_URL") or os.environ.get("DATABASE_URL") or ""
    return url if url.startswith(("postgres://", "postgresql://")) else None


def _with_database(url: str, name: str) -> str:
    return urllib.parse.urlsplit(url)._replace(path=f"/{name}").geturl()


def _env(var_dir: Path, database_url: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("REFUGE_") and key not in {"DATABASE_URL", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(
        DATABASE_URL=database_url,
        REFUGE_VAR_DIR=str(var_dir),
        REFUGE_SECRET_KEY="multi-worker-test-" + "x" * 40,
        # What is tested is SKIP LOCKED between workers, not sealing: keys in a file, no keyd.
        REFUGE_KEY_MODE="keyfile",
        REFUGE_LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="refuge.config.settings",
    )
    return env


def _run(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.mark.slow
@pytest.mark.skipif(
    _postgres_url() is None,
    reason="multi-worker claims need PostgreSQL (SKIP LOCKED); SQLite runs a single worker",
)
def test_four_workers_raise_exactly_one_alert_per_due_schedule(tmp_path):
    import psycopg
    from psycopg import sql

    base_url = _postgres_url()
    assert base_url is not None
    name = f"refuge_multiworker_{secrets.token_hex(6)}"
    database_url = _with_database(base_url, name)
    env = _env(tmp_path / "var", database_url)
    with psycopg.connect(_with_database(base_url, "postgres"), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            _run(env, "-m", "refuge.cli", "migrate", "--verbosity", "0")
            assert f"seeded {SCHEDULES}" in _run(
                env, "-m", "tests.alerts.multiworker_loop", "seed", str(SCHEDULES)
            )
            go = tmp_path / "go"
            workers = [
                subprocess.Popen(
                    [sys.executable, "-m", "tests.alerts.multiworker_loop", "work", str(go)],
                    cwd=REPO,
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
                for _ in range(WORKERS)
            ]
            go.touch()
            fired = []
            for worker in workers:
                out, err = worker.communicate(timeout=600)
                assert worker.returncode == 0, err
                fired.append(int(re.findall(r"fired (\d+)", out)[-1]))
            print(f"multi-worker: {WORKERS} workers fired {fired} (sum {sum(fired)})")  # noqa: T201
            with psycopg.connect(database_url) as db:
                alerts = db.execute(
                    "SELECT count(*), count(DISTINCT person_id) FROM alerts_alert "
                    "WHERE source = 'missed_checkin'"
                ).fetchone()
                due = db.execute(
                    "SELECT count(*) FROM alerts_checkinschedule WHERE alert_at <= now()"
                ).fetchone()
            # Every schedule fired exactly once, by exactly one worker.
            assert alerts == (SCHEDULES, SCHEDULES)
            assert sum(fired) == SCHEDULES
            assert due == (0,)
            assert sum(1 for n in fired if n > 0) > 1, "the work was not shared at all"
        finally:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
