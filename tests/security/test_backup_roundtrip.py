"""Backup round trip, as an operator would run it: the demo scenario (with check-in schedules and
PINs) plus an evidence file in one instance, `refuge backup`, then `refuge restore` into a fresh,
empty instance with its own var/ and database; each step a subprocess with its own environment.

Checked in the restored instance: every table's rows (count and digest), the evidence bytes,
FALCON's legal name decrypts, `refuge audit verify` passes, a check-in with FALCON's PIN is
accepted (the PIN key came back), and the restore is in the audit log. A tampered archive leaves
the target untouched. On PostgreSQL (DATABASE_URL) the same runs between two fresh databases.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import sqlite3
import subprocess
import sys
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from refuge.demo import scenario
from tests.security.test_data_at_rest import REPO, _postgres_url, demo_env, refuge, scan

EVIDENCE_NAME = "5f0e2b7a-1c3d-4e5f-8a9b-0c1d2e3f4a5b.bin"
EVIDENCE_BYTES = bytes(range(256)) * 9000  # a little over 2 MiB: several stream chunks

DIGESTS = """
import json, os
from refuge.security.backup import services, tables
from refuge.security.backup.archive import canonical_json
limit = int(os.environ["AUDIT_LIMIT"])
found = {}
for model in tables.dumped_models(services.migrated_models()):
    rows = model._base_manager.order_by("pk")
    if model._meta.label_lower == "security.auditentry":
        rows = rows.filter(seq__lte=limit)
    digest = tables.Digest()
    for row in rows.values_list(*tables.columns(model)):
        digest.add(canonical_json([tables.encode(v) for v in row]) + b"\\n")
    found[model._meta.label_lower] = digest.as_dict()
print(json.dumps(found))
"""
AFTER_RESTORE = """
import json
from refuge.alerts.services import checkins
from refuge.people.models import ProtectedPerson
from refuge.security.models import AuditEntry
falcon = ProtectedPerson.objects.get(pseudonym="FALCON")
last = AuditEntry.objects.order_by("-seq").first()
result = checkins.checkin_submit(schedule=checkins.schedule_of(falcon), pin="2468", channel="web")
print(json.dumps({"legal_name": falcon.legal_name, "last_action": last.action,
                  "last_detail": json.loads(last.detail), "checkin_accepted": result.accepted}))
"""


def instance_env(var_dir: Path, database_url: str | None) -> dict[str, str]:
    env = demo_env(var_dir, database_url)
    env["REFUGE_KEY_MODE"] = "keyfile"
    return env


def shell(env: dict[str, str], code: str, **extra: str) -> dict:
    output = refuge({**env, **extra}, "shell", "-c", code)
    return json.loads(output.strip().splitlines()[-1])


def refuge_fails(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "refuge.cli", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode != 0, f"refuge {' '.join(args)} succeeded:\n{done.stdout}"
    return done.stderr


def make_source(var_dir: Path, database_url: str | None) -> dict[str, str]:
    env = instance_env(var_dir, database_url)
    refuge(env, "demo", "--no-serve")
    evidence = var_dir / "evidence"
    evidence.mkdir(mode=0o700, exist_ok=True)
    (evidence / EVIDENCE_NAME).write_bytes(EVIDENCE_BYTES)
    return env


@dataclass(frozen=True)
class Source:
    var_dir: Path
    archive: Path
    digests: dict

    @property
    def key_file(self) -> str:
        return str(self.var_dir / "keys" / "master.key")


def back_up(tmp_path: Path, database_url: str | None) -> Source:
    env = make_source(tmp_path / "a", database_url)
    digests = shell(env, DIGESTS, AUDIT_LIMIT=str(10**9))
    archive = tmp_path / "refuge.backup"
    refuge(env, "backup", str(archive))
    return Source(tmp_path / "a", archive, digests)


def restore_and_check(source: Source, target: dict[str, str], var_dir: Path) -> None:
    out = refuge(target, "restore", str(source.archive), "--key-file", source.key_file)
    assert "audit chain verified" in out
    audit_count = source.digests["security.auditentry"]["count"]
    assert shell(target, DIGESTS, AUDIT_LIMIT=str(audit_count)) == source.digests
    assert (var_dir / "evidence" / EVIDENCE_NAME).read_bytes() == EVIDENCE_BYTES
    assert "audit chain OK" in refuge(target, "audit", "verify")
    after = shell(target, AFTER_RESTORE)
    assert after["legal_name"] == scenario.FALCON_NAME
    assert after["last_action"] == "refuge.security.backup.restored"
    assert after["last_detail"]["rows"] > 0
    assert after["checkin_accepted"] is True


@pytest.fixture(scope="module")
def sqlite_source(tmp_path_factory) -> Source:
    return back_up(tmp_path_factory.mktemp("source"), None)


@pytest.mark.slow
def test_archive_holds_no_scenario_secret(sqlite_source):
    assert scan({"archive": sqlite_source.archive.read_bytes()}) == []
    assert EVIDENCE_BYTES[:64] not in sqlite_source.archive.read_bytes()


@pytest.mark.slow
def test_sqlite_round_trip(sqlite_source, tmp_path):
    restore_and_check(sqlite_source, instance_env(tmp_path / "b", None), tmp_path / "b")


@pytest.mark.slow
def test_tampered_archive_changes_nothing(sqlite_source, tmp_path):
    archive = tmp_path / "tampered.backup"
    data = bytearray(sqlite_source.archive.read_bytes())
    data[len(data) // 3] ^= 0x20
    archive.write_bytes(bytes(data))

    var_dir = tmp_path / "b"
    target = instance_env(var_dir, None)
    error = refuge_fails(target, "restore", str(archive), "--key-file", sqlite_source.key_file)
    assert "does not authenticate" in error
    database = var_dir / "refuge.sqlite3"
    if database.exists():
        with contextlib.closing(sqlite3.connect(database)) as connection:
            assert connection.execute("SELECT name FROM sqlite_master").fetchall() == []
    written = {str(p.relative_to(var_dir)) for p in var_dir.rglob("*") if p.is_file()}
    # The connection opens (creates) an empty database file; nothing else is written.
    assert {name for name in written if not name.startswith("refuge.sqlite3")} == {"secret_key"}


@pytest.mark.slow
def test_restore_without_the_key_file_says_what_it_needs(sqlite_source, tmp_path):
    target = instance_env(tmp_path / "b", None)
    error = refuge_fails(target, "restore", str(sqlite_source.archive))
    assert "needs the master key file" in error


@pytest.mark.slow
def test_restore_into_an_instance_with_data_is_refused(sqlite_source, tmp_path):
    target = make_source(tmp_path / "b", None)
    error = refuge_fails(
        target, "restore", str(sqlite_source.archive), "--key-file", sqlite_source.key_file
    )
    assert "empty instance" in error


def _with_database(url: str, name: str) -> str:
    return urllib.parse.urlsplit(url)._replace(path=f"/{name}").geturl()


@pytest.mark.slow
@pytest.mark.skipif(_postgres_url() is None, reason="DATABASE_URL does not point at PostgreSQL")
def test_postgres_round_trip(tmp_path):
    base_url = _postgres_url()
    assert base_url is not None
    names = [f"refuge_backup_{side}_{secrets.token_hex(4)}" for side in ("a", "b")]
    with psycopg.connect(_with_database(base_url, "postgres"), autocommit=True) as admin:
        for name in names:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            source = back_up(tmp_path, _with_database(base_url, names[0]))
            target_url = _with_database(base_url, names[1])
            restore_and_check(source, instance_env(tmp_path / "b", target_url), tmp_path / "b")
        finally:
            for name in names:
                admin.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )
