"""Seized-server check: after `refuge demo` loads the reference scenario, none of its legal names,
phone numbers or the safe flat's address is anywhere in the database files or under var/ (the key
file aside), in any of the encodings a forensic search would try.

The demo runs in a subprocess with a fresh REFUGE_VAR_DIR, exactly as an operator would run it.
On PostgreSQL (DATABASE_URL) a fresh database is created, dumped with pg_dump and dropped.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from refuge.demo import scenario

REPO = Path(__file__).resolve().parents[2]
KEY_FILE = Path("keys") / "master.key"

NAMES = [
    scenario.FALCON_NAME,
    scenario.BIRCH_NAME,
    scenario.MOTHER_NAME,
    scenario.BROTHER_NAME,
    # Parts a search would try on their own.
    "Testaev",
    "Demoev",
    "Zaurbekovich",
    "Ruslanovich",
    "Zarema",
]
PHONES = [
    scenario.FALCON_PHONE,
    scenario.BIRCH_PHONE,
    scenario.MOTHER_PHONE,
    scenario.BROTHER_PHONE,
]
ADDRESSES = [scenario.FLAT_ADDRESS, "ul. Testovaya 12", "Testovaya", "Primernoye"]

PRINT_FALCON = (
    "from refuge.people.models import ProtectedPerson; "
    "print('decrypted:', ProtectedPerson.objects.get(pseudonym='FALCON').legal_name)"
)


def _phone_spellings(phone: str) -> Iterator[str]:
    digits = "".join(c for c in phone if c.isdigit())  # 79005550123
    national = digits[1:]  # 9005550123
    yield phone  # as written: +7 900 555-01-23
    yield digits
    yield "+" + digits  # E.164
    yield "8" + national  # Russian trunk prefix
    yield national
    yield phone.split(" ", 2)[2]  # 555-01-23
    yield national[-7:]  # 5550123


def secret_strings() -> list[str]:
    found: list[str] = []
    for text in NAMES + ADDRESSES:
        found += [text, text.lower(), text.upper()]
    for phone in PHONES:
        found += list(_phone_spellings(phone))
    return list(dict.fromkeys(found))


def needles() -> dict[bytes, str]:
    """Byte patterns to look for, each with a description for the failure message."""
    patterns: dict[bytes, str] = {}
    for text in secret_strings():
        patterns[text.encode("utf-8")] = f"{text!r} (UTF-8)"
        patterns[text.encode("utf-16-le")] = f"{text!r} (UTF-16-LE)"
        # pg_dump prints bytea as hex: plaintext stored in a binary column would look like this.
        patterns[text.encode("utf-8").hex().encode("ascii")] = f"{text!r} (hex)"
    return patterns


def scan(blobs: dict[str, bytes]) -> list[str]:
    patterns = needles()
    return [
        f"{label} in {name}"
        for name, blob in blobs.items()
        for pattern, label in patterns.items()
        if pattern in blob
    ]


def var_files(var_dir: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(var_dir)): path.read_bytes()
        for path in sorted(var_dir.rglob("*"))
        if path.is_file() and path.relative_to(var_dir) != KEY_FILE
    }


def demo_env(var_dir: Path, database_url: str | None) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("REFUGE_") and key not in {"DATABASE_URL", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(
        REFUGE_DEMO="1",
        REFUGE_VAR_DIR=str(var_dir),
        DJANGO_SETTINGS_MODULE="refuge.config.settings",
    )
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def refuge(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "refuge.cli", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"refuge {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def load_demo(env: dict[str, str]) -> None:
    refuge(env, "migrate", "--verbosity", "0")
    refuge(env, "demo", "--no-serve")
    # The positive control: the same data does decrypt, so a clean scan means "encrypted", not
    # "never written". The demo is sealed: keyd (unsealing itself from the demo file) must run.
    keyd = subprocess.Popen(
        [sys.executable, "-m", "refuge.cli", "keyd"], cwd=REPO, env=env, stdout=subprocess.PIPE
    )
    try:
        assert keyd.stdout is not None
        keyd.stdout.readline()  # "demo: unsealed automatically ..."
        assert f"decrypted: {scenario.FALCON_NAME}" in refuge(env, "shell", "-c", PRINT_FALCON)
    finally:
        keyd.terminate()
        keyd.wait(timeout=30)


def test_scanner_finds_what_it_looks_for():
    assert scan({"a": b"..." + scenario.FALCON_NAME.encode("utf-16-le") + b"..."})
    assert scan({"b": b"tel 79005550123"})
    assert scan({"c": scenario.FLAT_ADDRESS.lower().encode()})
    assert scan({"d": b"\\x" + b"Rustam Zaurbekovich Testaev".hex().encode()})
    assert not scan({"e": b"FALCON BIRCH Nizhny Novgorod team"})


@pytest.mark.slow
def test_sqlite_database_and_var_dir_hold_no_scenario_secrets(tmp_path):
    var_dir = tmp_path / "var"
    load_demo(demo_env(var_dir, database_url=None))
    files = var_files(var_dir)
    database = [name for name in files if name.startswith("refuge.sqlite3")]
    assert "refuge.sqlite3" in database
    # The scan reads the real records: plain pseudonyms are there, identities are not.
    assert any(b"FALCON" in files[name] for name in database)
    assert scan(files) == []


def _postgres_url() -> str | None:
    url = os.environ.get("REFUGE_DATABASE_URL") or os.environ.get("DATABASE_URL") or ""
    return url if url.startswith(("postgres://", "postgresql://")) else None


def _with_database(url: str, name: str) -> str:
    return urllib.parse.urlsplit(url)._replace(path=f"/{name}").geturl()


@pytest.mark.slow
@pytest.mark.skipif(_postgres_url() is None, reason="DATABASE_URL does not point at PostgreSQL")
def test_postgres_dump_and_var_dir_hold_no_scenario_secrets(tmp_path):
    import psycopg
    from psycopg import sql

    base_url = _postgres_url()
    assert base_url is not None
    name = f"refuge_atrest_{secrets.token_hex(6)}"
    database_url = _with_database(base_url, name)
    with psycopg.connect(_with_database(base_url, "postgres"), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            var_dir = tmp_path / "var"
            load_demo(demo_env(var_dir, database_url))
            dump = subprocess.run(
                ["pg_dump", "--no-owner", "--dbname", database_url],
                capture_output=True,
                timeout=300,
                check=True,
            ).stdout
            assert b"FALCON" in dump
            assert b"security_auditentry" in dump
            assert scan({"pg_dump": dump, **var_files(var_dir)}) == []
        finally:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
