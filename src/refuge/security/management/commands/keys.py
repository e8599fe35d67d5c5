"""`refuge keys rotate` re-wraps every data key under a new key-encryption key (resumable after a
crash: run it again); `refuge keys status` shows the current version and what still lags."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from refuge.security import services
from refuge.security.sealing import SealedError


class Command(BaseCommand):
    # Key operations must work on a damaged installation too; they touch the keyring only.
    requires_system_checks: list[str] = []
    help = "Key management: rotate the key-encryption key, show the keyring's status."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        rotate = actions.add_parser(
            "rotate",
            help="Start a new KEK version (or finish an unfinished one) and re-wrap all keys.",
        )
        rotate.add_argument(
            "--batch-size",
            type=int,
            default=500,
            help="Data keys re-wrapped per transaction (default 500).",
        )
        actions.add_parser("status", help="Show the KEK version and keys still on older ones.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "rotate":
            self.rotate(options["batch_size"])
        else:
            self.status()

    def rotate(self, batch_size: int) -> None:
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")

        def progress(done: int, total: int) -> None:
            self.stdout.write(f"  re-wrapped {done} of {total} data keys")

        try:
            result = services.keys_rotate(batch_size=batch_size, progress=progress)
        except SealedError:
            raise CommandError(
                "Refuge is sealed (or keyd cannot be reached): unseal it first, then rotate."
            ) from None
        if result.resumed:
            self.stdout.write(f"Finishing the interrupted rotation to KEK v{result.kek_version}.")
        else:
            self.stdout.write(f"Rotated from KEK v{result.from_version} to v{result.kek_version}.")
        self.stdout.write(f"{result.rewrapped} data keys re-wrapped.")
        if result.failed:
            raise CommandError(
                f"{result.failed} data keys could not be unwrapped and stay on their old version "
                "(see the audit log, refuge.security.keys.rewrap_failed). Re-run after repair."
            )

    def status(self) -> None:
        status = services.keys_status()
        self.stdout.write(f"current KEK version: v{status.current_kek_version}")
        self.stdout.write(f"data keys: {status.total_keys}")
        self.stdout.write(f"on older versions: {status.outdated_keys}")
        if status.rotation_unfinished:
            self.stdout.write("A rotation is unfinished: run `refuge keys rotate` to complete it.")
