"""Sealing across real processes: keyd, two client processes and the CLI, as in production.

Seal now empties every process at once; keyd killed means every process is sealed (fail closed).
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REFUGE = str(Path(sys.executable).with_name("refuge"))
pytestmark = pytest.mark.slow
CLIENT = """
import sys
from refuge.security.crypto import KeyContext
from refuge.security.provider import get_crypto
from refuge.security.sealing import SealedError
context = KeyContext("probe", "record")
dek, wrapped = get_crypto().new_data_key(context, kek_version=1)
print("ready", flush=True)
for _line in sys.stdin:
    try:
        ok = get_crypto().unwrap_key(wrapped, context) == dek
        print("ok" if ok else "WRONG", flush=True)
    except SealedError:
        print("sealed", flush=True)
"""


def _env(var_dir: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("REFUGE_") and k not in {"DATABASE_URL", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(
        REFUGE_DEBUG="1",
        REFUGE_KEY_MODE="sealed",
        REFUGE_VAR_DIR=str(var_dir),
        REFUGE_SECRET_KEY=secrets.token_urlsafe(40),
        REFUGE_LOG_LEVEL="WARNING",
    )
    return env


def _run(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [REFUGE, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


class Instance:
    def __init__(self, var_dir: Path) -> None:
        self.var_dir = var_dir
        self.env = _env(var_dir)
        self.shares = var_dir / "shares"
        self.keyd: subprocess.Popen[str] | None = None

    def start_keyd(self) -> None:
        self.keyd = subprocess.Popen(
            [REFUGE, "keyd"], env=self.env, stdout=subprocess.PIPE, text=True
        )
        assert self.keyd.stdout is not None
        assert "sealed" in self.keyd.stdout.readline()

    def unseal(self, count: int = 2) -> str:
        out = ""
        for path in sorted(self.shares.iterdir())[:count]:
            out = _run(self.env, "unseal", str(path), "--holder", "test")
        return out

    def stop(self) -> None:
        if self.keyd is not None and self.keyd.poll() is None:
            self.keyd.terminate()
            self.keyd.wait(timeout=20)


@pytest.fixture(scope="module")
def instance() -> Iterator[Instance]:
    with tempfile.TemporaryDirectory(prefix="seal-") as directory:
        inst = Instance(Path(directory))
        _run(inst.env, "migrate", "-v", "0")
        _run(
            inst.env, "seal", "init", "--shares", "3", "--threshold", "2", "--out", str(inst.shares)
        )
        inst.start_keyd()
        try:
            yield inst
        finally:
            inst.stop()


class Client:
    def __init__(self, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [REFUGE, "shell", "-v", "0", "-c", CLIENT],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.ask_line() == "ready"

    def ask_line(self) -> str:
        assert self.process.stdout is not None
        return self.process.stdout.readline().strip()

    def ask(self) -> str:
        assert self.process.stdin is not None
        self.process.stdin.write("?\n")
        self.process.stdin.flush()
        return self.ask_line()

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=20)


@pytest.fixture
def clients(instance: Instance) -> Iterator[list[Client]]:
    instance.unseal()
    started = [Client(instance.env), Client(instance.env)]
    try:
        yield started
    finally:
        for client in started:
            client.close()


def test_keyd_starts_sealed_and_status_says_so(instance):
    _run(instance.env, "seal", "now", "--holder", "test")
    assert _run(instance.env, "seal", "status").startswith("sealed (0/2 shares entered")


def test_one_share_is_not_enough(instance):
    _run(instance.env, "seal", "now", "--holder", "test")
    assert "1 of 2 entered; still sealed" in instance.unseal(count=1)
    assert _run(instance.env, "seal", "status").startswith("sealed (1/2")
    _run(instance.env, "seal", "now", "--holder", "test")


def test_the_threshold_unseals(instance):
    assert instance.unseal().strip() == "unsealed"
    assert _run(instance.env, "seal", "status").startswith("unsealed")


def test_seal_now_empties_every_process(instance, clients):
    assert [c.ask() for c in clients] == ["ok", "ok"]
    assert _run(instance.env, "seal", "now", "--holder", "test").strip() == "sealed"
    assert [c.ask() for c in clients] == ["sealed", "sealed"]


def test_unsealing_again_restores_every_process(instance, clients):
    _run(instance.env, "seal", "now", "--holder", "test")
    instance.unseal()
    assert [c.ask() for c in clients] == ["ok", "ok"]


def test_keyd_killed_means_every_process_is_sealed(instance, clients):
    assert [c.ask() for c in clients] == ["ok", "ok"]
    assert instance.keyd is not None
    instance.keyd.send_signal(signal.SIGKILL)
    instance.keyd.wait(timeout=10)
    started = time.monotonic()
    assert [c.ask() for c in clients] == ["sealed", "sealed"]
    assert time.monotonic() - started < 5
    assert _run(instance.env, "seal", "status").startswith("sealed (keyd cannot be reached")
    instance.start_keyd()  # a restarted keyd is sealed until the holders come back
    assert [c.ask() for c in clients] == ["sealed", "sealed"]


def test_seal_init_refuses_a_second_seal(instance):
    done = subprocess.run(
        [
            REFUGE,
            "seal",
            "init",
            "--shares",
            "3",
            "--threshold",
            "2",
            "--out",
            str(instance.var_dir / "again"),
        ],
        env=instance.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0
    assert "already sealed" in done.stderr


def test_share_files_are_private(instance):
    modes = {p.stat().st_mode & 0o777 for p in instance.shares.iterdir()}
    assert modes == {0o600}


def test_keyd_refuses_the_demo_unseal_file_outside_demo_mode(instance):
    demo_file = instance.var_dir / "demo-unseal.key"
    demo_file.write_text("x")
    try:
        done = subprocess.run(
            [REFUGE, "keyd"],
            env=instance.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        demo_file.unlink()
    assert done.returncode != 0
    assert "outside demo mode" in done.stderr
