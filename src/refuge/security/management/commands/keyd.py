"""`refuge keyd`: run the key daemon in the foreground (systemd: deploy/refuge-keyd.service).

It starts sealed. In demo mode only, it unseals itself from var/demo-unseal.key and says so.
"""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from refuge.security import sealing
from refuge.security import shares as share_format
from refuge.security.keyd.server import KeyDaemon, KeydServer

_SIGNAL_CHECK_SECONDS = 0.5


def _load_record() -> sealing.SealRecord | None:
    from django.db import close_old_connections  # noqa: PLC0415 - only the daemon needs it

    close_old_connections()
    return sealing.seal_record()


class Command(BaseCommand):
    requires_system_checks: list[str] = []
    help = "Run the key daemon: the one process that holds the root key (starts sealed)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--socket",
            type=Path,
            default=None,
            help="Unix socket path (default REFUGE_KEYD_SOCKET, var/keyd.sock).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.KEY_MODE != "sealed":
            raise CommandError("refuge keyd runs in sealed mode only (REFUGE_KEY_MODE=sealed).")
        if settings.DEMO_UNSEAL_FILE.exists() and not settings.DEMO_MODE:
            raise CommandError(
                f"{settings.DEMO_UNSEAL_FILE} exists outside demo mode: anyone with this disk "
                "could unseal. Delete it (shred -u) and unseal with the key holders' shares."
            )
        path = Path(options["socket"] or settings.KEYD_SOCKET)
        daemon = KeyDaemon(_load_record, pending_seconds=settings.UNSEAL_PENDING_SECONDS)
        try:
            server = KeydServer(path, daemon, allowed_uids={os.getuid()})
        except OSError as exc:
            raise CommandError(f"keyd cannot listen on {path}: {exc}") from None
        if settings.DEMO_MODE and settings.DEMO_UNSEAL_FILE.exists():
            self._demo_unseal(daemon)
        else:
            self.stdout.write(f"keyd listening on {path}: sealed; k key holders must unseal it.")
        self.stdout.flush()
        stop = threading.Event()

        def on_signal(signum: int, frame: FrameType | None) -> None:
            del signum, frame
            stop.set()

        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, on_signal)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2})
        thread.start()
        try:
            # Never an endless wait: the kernel may deliver the signal to the server's thread,
            # and Python runs the handler only when the main thread next runs bytecode.
            while not stop.wait(_SIGNAL_CHECK_SECONDS):
                pass
        finally:
            daemon.seal()
            server.shutdown()
            server.server_close()
            thread.join()
        self.stdout.write("keyd stopped (sealed).")

    def _demo_unseal(self, daemon: KeyDaemon) -> None:
        lines = settings.DEMO_UNSEAL_FILE.read_text(encoding="ascii").split()
        status = daemon.status()
        try:
            for line in lines:
                status = daemon.unseal(line)
        except (share_format.ShareError, sealing.NotInitialisedError) as exc:
            raise CommandError(f"the demo unseal file is unusable: {exc}") from None
        if status["sealed"]:
            raise CommandError("the demo unseal file holds too few shares")
        self.stdout.write(f"demo: unsealed automatically from {settings.DEMO_UNSEAL_FILE}")
