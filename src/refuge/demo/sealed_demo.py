"""The demo runs sealed, like production, but unseals itself: `refuge demo` seals the instance
on first run (3 of 5 shares), writes 3 shares to var/demo-unseal.key, and starts `refuge keyd`,
which reads that file. Production refuses to start while that file exists (security checks)."""

from __future__ import annotations

import os
import time
from typing import TextIO

from django.conf import settings
from django.core.management.base import CommandError, OutputWrapper

from refuge.demo import processes
from refuge.security import services_seal
from refuge.security.keyd.client import keyd_client
from refuge.security.models import Seal

DEMO_THRESHOLD = 3
DEMO_SHARES = 5
KEYD_START_SECONDS = 30.0
BANNER = "demo: unsealed automatically from %(path)s (never do this in production)"


def ensure_sealed(stdout: OutputWrapper | TextIO) -> None:
    """Seal the demo instance once; a key file from an older demo becomes the root key."""
    path = settings.DEMO_UNSEAL_FILE
    if Seal.objects.exists():
        if not path.exists():
            raise CommandError(
                f"This demo instance is sealed but {path} is missing, so it cannot unseal "
                "itself. Start afresh with `make clean`."
            )
        return
    result = services_seal.seal_init(threshold=DEMO_THRESHOLD, total=DEMO_SHARES)
    if result.migrated_key_file is not None:
        result.migrated_key_file.unlink()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.writelines(share.text() + "\n" for share in result.shares[:DEMO_THRESHOLD])
    stdout.write(f"Sealed the demo instance {result.record.instance_id} (3 of 5 shares).")


def start_keyd(supervisor: processes.Supervisor, stdout: OutputWrapper | TextIO) -> None:
    """Start keyd as the first child and wait until it has unsealed itself."""
    ensure_sealed(stdout)
    supervisor.start("key daemon", processes.refuge_command("keyd"))
    client = keyd_client()
    deadline = time.monotonic() + KEYD_START_SECONDS
    while time.monotonic() < deadline:
        for child in supervisor.children:
            if child.process.poll() is not None:
                raise CommandError(
                    f"the {child.name} stopped (exit code {child.process.returncode})"
                )
        status = client.status()
        if status.reachable and not status.sealed:
            return
        time.sleep(0.2)
    raise CommandError("the key daemon did not unseal itself within 30 seconds")
