"""Seized-server test (security design c.3): run the reference scenario on a sealed instance,
stop everything, take what a seizure gets, and show it is useless without k shares.

1. The demo scenario (people, relatives, the safe flat, check-in schedules and PINs, BIRCH's call
   with what the operator heard) is loaded; the instance is sealed 3 of 5 (`seal init` adopts the
   key file, which is then deleted), keyd runs and three holders unseal it; an evidence file whose
   content names FALCON is taken in; `refuge backup` writes an archive.
2. keyd is stopped. The seizure: every file under var/ (the SQLite file with -wal and -shm, the
   evidence directory, the PIN key, the seal record), a `pg_dump` on PostgreSQL, the backup
   archive, and every log line all processes wrote (captured standard error and output).
3. None of the scenario's secrets is in any of it: legal names (Latin and Cyrillic), phones in
   several spellings, the address, the relatives, what was heard on the call, the check-in PINs,
   the share texts; in UTF-8, UTF-16-LE and hex (test_data_at_rest.needles).
4. Nothing decrypts without k shares: var/ holds only the documented files and no key file; the
   wrapped root key does not open with any 2 of the 5 shares; the backup does not restore with 2
   shares. With 3 shares it does, and FALCON's name decrypts (the positive control).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from refuge.demo import scenario, scenario_alerts
from refuge.security import sealing, shares
from tests.security.test_data_at_rest import REPO, _postgres_url, demo_env, needles

CYRILLIC = [
    "Рустам Заурбекович Тестаев",
    "Ислам Русланович Демоев",
    "Зарема Тестаева",
    "Адам Заурбекович Тестаев",
    "Тестаев",
    "Демоев",
    "Тестовая",
]
HEARD = ["men's voices in the background", "they are here", scenario_alerts.HEARD]
EVIDENCE_TEXT = (
    f"Statement of {scenario.FALCON_NAME}, {scenario.FALCON_PHONE}, {scenario.FLAT_ADDRESS}"
)
# A PIN alone is four digits, which random ciphertext and ids contain by chance; what a leak
# would look like is the PIN in a form, a log line or a JSON payload.
PIN_CONTEXTS = ("PIN {}", "pin={}", "pin: {}", '"pin":"{}"', '"pin": "{}"', "'{}'")
# What var/ may hold on a sealed instance; anything else must be added here *and* to
# docs/backups.md ("What a seized server holds").
VAR_FILES = re.compile(
    r"^(refuge\.sqlite3(-wal|-shm|-writers)?|secret_key|seal\.json|keys/pin\.key"
    r"|evidence/[0-9a-f-]{36}\.bin|static/.*)$"
)
INGEST = f"""
from refuge.accounts.models import User
from refuge.cases.models import Case
from refuge.evidence.services import evidence_ingest
lawyer = User.objects.get(username="lawyer")
case = Case.objects.filter(people__pseudonym="FALCON").first()
evidence_ingest(actor=lawyer, case=case, chunks=[{EVIDENCE_TEXT.encode()!r}],
                original_name="statement.txt")
print("ingested")
"""
DECRYPT_FALCON = """
import json, sys
from refuge.people.models import ProtectedPerson
from refuge.security import sealing
from refuge.security.crypto import KeyContext
crypto = sealing.root_crypto_from_shares(sealing.seal_record(), json.loads(sys.stdin.read()))
falcon = ProtectedPerson.objects.get(pseudonym="FALCON")
key = falcon.data_key
dek = crypto.unwrap_key(bytes(key.wrapped), KeyContext(str(key.id), key.purpose))
field = ProtectedPerson._meta.get_field("legal_name")
print("decrypted:", crypto.decrypt_field(dek, bytes(falcon.legal_name_ct), field.context(falcon)))
from refuge.security.models import AuditEntry
restored = AuditEntry.objects.get(action="refuge.security.backup.restored")
print("share indexes:", json.loads(restored.detail)["share_indexes"])
"""


class Instance:
    """One Refuge instance driven through `refuge` subprocesses; keeps everything they print."""

    def __init__(self, var_dir: Path, database_url: str | None, log: list[str]) -> None:
        self.var_dir = var_dir
        self.log = log
        env = demo_env(var_dir, database_url)
        self.keyfile_env = {**env, "REFUGE_KEY_MODE": "keyfile", "REFUGE_LOG_LEVEL": "DEBUG"}
        # After the demo data is in, the instance runs as in production: not demo, sealed.
        self.env = {
            **{k: v for k, v in self.keyfile_env.items() if k != "REFUGE_DEMO"},
            "REFUGE_KEY_MODE": "sealed",
            "REFUGE_SECRET_KEY": "seized-server-test-" + "x" * 40,
        }

    def run(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        stdin: str = "",
        ok: bool = True,
        terminal_only: bool = False,
    ) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "refuge.cli", *args],
            cwd=REPO,
            env=env or self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        # `refuge demo` prints the published demo PINs to the terminal on purpose; its log lines
        # (standard error) are kept like every other process's.
        self.log += [done.stderr] if terminal_only else [done.stdout, done.stderr]
        assert (done.returncode == 0) is ok, (
            f"refuge {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
        )
        return done.stdout + done.stderr

    @contextlib.contextmanager
    def keyd(self) -> Iterator[None]:
        process = subprocess.Popen(
            [sys.executable, "-m", "refuge.cli", "keyd"],
            cwd=REPO,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            socket = self.var_dir / "keyd.sock"
            deadline = time.monotonic() + 60
            while not socket.exists():
                assert process.poll() is None, process.communicate()
                assert time.monotonic() < deadline, "keyd did not start"
                time.sleep(0.2)
            yield
        finally:
            process.send_signal(signal.SIGTERM)
            out, err = process.communicate(timeout=30)
            self.log += [out, err]


def share_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("refuge-*-share-*-of-5.txt"), key=lambda p: p.name)


def run_scenario(tmp_path: Path, database_url: str | None) -> tuple[Instance, list[Path], Path]:
    log: list[str] = []
    instance = Instance(tmp_path / "var", database_url, log)
    instance.run("demo", "--no-serve", env=instance.keyfile_env, terminal_only=True)
    share_dir = tmp_path / "shares"
    instance.run(
        "seal",
        "init",
        "--shares",
        "5",
        "--threshold",
        "3",
        "--out",
        str(share_dir),
        "--remove-key-file",
    )
    issued = share_files(share_dir)
    assert len(issued) == 5
    archive = tmp_path / "seized.backup"
    with instance.keyd():
        for path in issued[:3]:
            instance.run("unseal", str(path))
        assert "ingested" in instance.run("shell", "-c", INGEST)
        instance.run("backup", str(archive))
    return instance, issued, archive


def seize(instance: Instance, archive: Path, database_url: str | None) -> dict[str, bytes]:
    taken = {
        f"var/{path.relative_to(instance.var_dir)}": path.read_bytes()
        for path in sorted(instance.var_dir.rglob("*"))
        if path.is_file()
    }
    taken["backup"] = archive.read_bytes()
    taken["logs"] = "\n".join(instance.log).encode()
    if database_url:
        taken["pg_dump"] = subprocess.run(
            ["pg_dump", "--no-owner", "--dbname", database_url],
            capture_output=True,
            timeout=300,
            check=True,
        ).stdout
    return taken


def secret_patterns(issued: list[Path]) -> dict[bytes, str]:
    patterns = needles()
    texts = CYRILLIC + HEARD + [EVIDENCE_TEXT]
    for pin_pair in scenario_alerts.PINS.values():
        texts += [context.format(pin) for pin in pin_pair for context in PIN_CONTEXTS]
    for path in issued:
        share = shares.parse(path.read_text())
        texts += [share.text(), share.text().split(":")[5]]
    for text in texts:
        patterns[text.encode("utf-8")] = f"{text!r} (UTF-8)"
        patterns[text.encode("utf-16-le")] = f"{text!r} (UTF-16-LE)"
        patterns[text.encode("utf-8").hex().encode()] = f"{text!r} (hex)"
    return patterns


def check_seizure(tmp_path: Path, database_url: str | None, restore_url: str | None) -> None:
    instance, issued, archive = run_scenario(tmp_path, database_url)
    taken = seize(instance, archive, database_url)

    # The seizure is real: the records, the evidence and the backup are in it.
    assert any(
        b"FALCON" in blob for name, blob in taken.items() if "sqlite3" in name or name == "pg_dump"
    )
    assert any(name.startswith("var/evidence/") for name in taken)
    patterns = secret_patterns(issued)
    hits = [
        f"{label} in {name}"
        for name, blob in taken.items()
        for pattern, label in patterns.items()
        if pattern in blob
    ]
    assert hits == []

    # No key on disk: only the documented files, none of them a key file.
    var_names = [name.removeprefix("var/") for name in taken if name.startswith("var/")]
    assert [name for name in var_names if not VAR_FILES.match(name)] == []
    assert not any(b"refuge-master-key:" in blob for blob in taken.values())
    assert "keys/master.key" not in var_names
    assert "demo-unseal.key" not in var_names

    # The wrapped root key opens with 3 of the 5 shares and with no 2 of them.
    record = sealing.SealRecord.from_json((instance.var_dir / "seal.json").read_text())
    parsed = [shares.parse(path.read_text()) for path in issued]
    for pair in itertools.combinations(parsed, 2):
        with pytest.raises(shares.ShareError):
            sealing.root_from_shares(record, list(pair))
    assert len(sealing.root_from_shares(record, parsed[2:5])) == 32

    # The backup restores with 3 shares and not with 2; then FALCON's name decrypts.
    target = Instance(tmp_path / "restored", restore_url, [])
    target.var_dir.mkdir(mode=0o700)
    share_args = [arg for path in issued[1:3] for arg in ("--share", str(path))]
    refused = target.run("restore", str(archive), *share_args, ok=False)
    assert "not enough" in refused
    target.run("restore", str(archive), *share_args, "--share", str(issued[4]))
    assert (target.var_dir / "seal.json").read_text() == (
        instance.var_dir / "seal.json"
    ).read_text()
    texts = json.dumps([path.read_text() for path in [*issued[1:3], issued[4]]])
    decrypted = target.run("shell", "-c", DECRYPT_FALCON, stdin=texts)
    assert f"decrypted: {scenario.FALCON_NAME}" in decrypted
    indexes = sorted(shares.parse(path.read_text()).index for path in [*issued[1:3], issued[4]])
    assert f"share indexes: {indexes}" in decrypted


@pytest.mark.slow
def test_seized_sqlite_server_yields_nothing(tmp_path):
    check_seizure(tmp_path, None, None)


def _with_database(url: str, name: str) -> str:
    return urllib.parse.urlsplit(url)._replace(path=f"/{name}").geturl()


@pytest.mark.slow
@pytest.mark.skipif(_postgres_url() is None, reason="DATABASE_URL does not point at PostgreSQL")
@pytest.mark.skipif(shutil.which("pg_dump") is None, reason="pg_dump is not installed")
def test_seized_postgres_server_yields_nothing(tmp_path):
    base_url = _postgres_url()
    assert base_url is not None
    names = [f"refuge_seized_{side}_{secrets.token_hex(4)}" for side in ("a", "b")]
    with psycopg.connect(_with_database(base_url, "postgres"), autocommit=True) as admin:
        for name in names:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            check_seizure(
                tmp_path, _with_database(base_url, names[0]), _with_database(base_url, names[1])
            )
        finally:
            for name in names:
                admin.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )
