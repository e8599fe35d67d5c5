"""Points Refuge at a benchmark database of its own before Django starts.

small: SQLite in a fresh temporary REFUGE_VAR_DIR (with its own master key and secret key), so the
demo's var/ is never touched. full: a database called refuge_bench on the PostgreSQL server named by
DATABASE_URL (or REFUGE_DATABASE_URL), created fresh here and dropped at the end. The database in
the URL itself (for instance `test`) is never written to. BENCH_KEEP=1 keeps the benchmark
database and the temporary directory (which holds the key that decrypts it) for inspection.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BENCH_DATABASE = "refuge_bench"
_DROPPED_VARIABLES = (
    "DATABASE_URL",
    "REFUGE_DATABASE_URL",
    "REFUGE_SQLITE_PATH",
    "REFUGE_KEY_FILE",
    "REFUGE_SECRET_KEY",
    "REFUGE_SECRET_KEY_FILE",
    # Evidence goes to the run's temporary directory, with the default size limit.
    "REFUGE_EVIDENCE_DIR",
    "REFUGE_EVIDENCE_MAX_BYTES",
)


class SetupError(Exception):
    """The benchmark database cannot be set up as asked."""


@dataclass(frozen=True)
class Target:
    description: str
    var_dir: Path
    keep: bool


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


def _server_url() -> str:
    url = os.environ.get("REFUGE_DATABASE_URL") or os.environ.get("DATABASE_URL") or ""
    if urlsplit(url).scheme not in {"postgres", "postgresql", "pgsql"}:
        raise SetupError(
            "BENCH_SCALE=full runs on PostgreSQL: set DATABASE_URL=postgres://user@host:port/db "
            f"(the benchmark creates its own database {BENCH_DATABASE!r} on that server)."
        )
    return url


def _admin_execute(server_url: str, *statements: str) -> None:
    """Run CREATE/DROP DATABASE from the server's maintenance database, as Django's test runner
    does; fall back to the URL's own database only to connect, never to write to it."""
    import psycopg

    named = urlsplit(server_url).path.lstrip("/")
    candidates = ["postgres"] + ([named] if named and named != BENCH_DATABASE else [])
    last_error: Exception | None = None
    for database in candidates:
        try:
            with psycopg.connect(_with_database(server_url, database), autocommit=True) as conn:
                for statement in statements:
                    conn.execute(statement)
        except psycopg.OperationalError as error:
            last_error = error
            continue
        return
    raise SetupError(f"cannot reach the PostgreSQL server: {last_error}")


@contextmanager
def _postgres(server_url: str, keep: bool) -> Iterator[str]:
    _admin_execute(
        server_url,
        f'DROP DATABASE IF EXISTS "{BENCH_DATABASE}" WITH (FORCE)',
        f'CREATE DATABASE "{BENCH_DATABASE}"',
    )
    bench_url = _with_database(server_url, BENCH_DATABASE)
    try:
        yield bench_url
    finally:
        _close_django_connections()
        if not keep:
            _admin_execute(server_url, f'DROP DATABASE IF EXISTS "{BENCH_DATABASE}" WITH (FORCE)')


def _close_django_connections() -> None:
    from django.db import connections

    connections.close_all()


def _safe_description(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    return f"PostgreSQL {host}:{parts.port or 5432}/{BENCH_DATABASE}"


@contextmanager
def bench_environment(database: str) -> Iterator[Target]:
    """Set the REFUGE_* variables for a benchmark run on `database` ("sqlite" or "postgresql")."""
    keep = _flag("BENCH_KEEP")
    server_url = _server_url() if database == "postgresql" else ""
    var_dir = Path(tempfile.mkdtemp(prefix="refuge-bench-"))
    (var_dir / "static").mkdir()  # STATIC_ROOT; WhiteNoise warns on every start without it
    for name in _DROPPED_VARIABLES:
        os.environ.pop(name, None)
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "refuge.config.settings",
            "REFUGE_DEMO": "1",  # a generated SECRET_KEY, kept in the temporary directory
            "REFUGE_VAR_DIR": str(var_dir),
            "REFUGE_KEY_FILE": str(var_dir / "keys" / "master.key"),
            # In-process keys: the figures measure Refuge's work, not a keyd round trip per
            # data key (demo mode would otherwise be sealed and need a running keyd).
            "REFUGE_KEY_MODE": "keyfile",
            "REFUGE_ALLOWED_HOSTS": "testserver",  # django.test.Client's host
            "REFUGE_SSL_REDIRECT": "0",
        }
    )
    try:
        if database == "postgresql":
            with _postgres(server_url, keep) as bench_url:
                os.environ["REFUGE_DATABASE_URL"] = bench_url
                yield Target(_safe_description(bench_url), var_dir, keep)
        else:
            sqlite_path = var_dir / "bench.sqlite3"
            os.environ["REFUGE_SQLITE_PATH"] = str(sqlite_path)
            try:
                yield Target(f"SQLite {sqlite_path}", var_dir, keep)
            finally:
                _close_django_connections()
    finally:
        if not keep:
            shutil.rmtree(var_dir, ignore_errors=True)
