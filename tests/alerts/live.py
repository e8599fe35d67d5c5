"""A fresh Refuge instance for tests that run real `refuge` processes (worker, shell): its own
SQLite file in a temporary REFUGE_VAR_DIR, or, when the suite runs on PostgreSQL, its own
database on that server (created here, dropped at the end). The test's own database is
transactional and invisible to other processes, so these tests never use it.

`Instance.sql()` reads the instance's database directly (sqlite3 or psycopg), so checking a
result never waits for a Django start-up.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]


def postgres_url() -> str | None:
    url = os.environ.get("REFUGE_DATABASE_URL") or os.environ.get("DATABASE_URL") or ""
    return url if url.startswith(("postgres://", "postgresql://")) else None


def _with_database(url: str, name: str) -> str:
    return urllib.parse.urlsplit(url)._replace(path=f"/{name}").geturl()


@dataclass
class Instance:
    env: dict[str, str]
    var_dir: Path
    database_url: str | None  # None: SQLite at var_dir/refuge.sqlite3

    @property
    def vendor(self) -> str:
        return "postgresql" if self.database_url else "sqlite"

    def refuge(self, *args: str, extra_env: dict[str, str] | None = None) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "refuge.cli", *args],
            cwd=REPO,
            env={**self.env, **(extra_env or {})},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, f"refuge {args[0]} failed:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def shell(self, code: str, **extra_env: str) -> str:
        return self.refuge("shell", "-c", code, extra_env=extra_env)

    def worker(self, log: Path, **extra_env: str) -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            return subprocess.Popen(
                [sys.executable, "-m", "refuge.cli", "worker"],
                cwd=REPO,
                env={**self.env, **extra_env},
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def sql(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        if self.database_url:
            import psycopg

            with psycopg.connect(self.database_url) as db:
                return list(db.execute(query.replace("?", "%s"), params).fetchall())
        path = self.var_dir / "refuge.sqlite3"
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10) as db:
            return list(db.execute(query, params).fetchall())


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def stop(process: subprocess.Popen[bytes], *, kill: bool = False) -> None:
    if process.poll() is None:
        if kill:
            process.kill()
        else:
            process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@contextmanager
def fresh_instance(tmp_path: Path, **settings: str) -> Iterator[Instance]:
    """A migrated instance on the suite's database engine, with `settings` as REFUGE_* env."""
    var_dir = tmp_path / "var"
    var_dir.mkdir(mode=0o700)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("REFUGE_") and key not in {"DATABASE_URL", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="refuge.config.settings",
        REFUGE_VAR_DIR=str(var_dir),
        REFUGE_SECRET_KEY="live-test-secret-key-" + "x" * 40,
        # What these tests look at is the worker, not sealing: keys in a file, no keyd to run.
        REFUGE_KEY_MODE="keyfile",
        REFUGE_LOG_LEVEL="INFO",
        **settings,
    )
    base = postgres_url()
    if base is None:
        instance = Instance(env=env, var_dir=var_dir, database_url=None)
        instance.refuge("migrate", "--verbosity", "0")
        yield instance
        return
    import psycopg
    from psycopg import sql

    name = f"refuge_live_{secrets.token_hex(6)}"
    database_url = _with_database(base, name)
    env["DATABASE_URL"] = database_url
    with psycopg.connect(_with_database(base, "postgres"), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            instance = Instance(env=env, var_dir=var_dir, database_url=database_url)
            instance.refuge("migrate", "--verbosity", "0")
            yield instance
        finally:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
