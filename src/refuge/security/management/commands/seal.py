"""`refuge seal init|status|now` (see docs/sealing.md for the ceremony and the drill)."""

from __future__ import annotations

import getpass
import os
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from refuge.security import sealing, services_seal
from refuge.security import shares as share_format

MAX_PASSPHRASE_TRIES = 3


class Command(BaseCommand):
    requires_system_checks: list[str] = []
    help = "Sealing: create the shares (init), show the state (status), seal every process (now)."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        init = actions.add_parser("init", help="Create the root key and the k-of-n shares.")
        init.add_argument("--shares", type=int, required=True, help="n: shares to issue.")
        init.add_argument("--threshold", type=int, required=True, help="k: shares to unseal.")
        init.add_argument("--out", type=Path, required=True, help="Empty directory for the files.")
        init.add_argument(
            "--i-accept-total-loss-if-one-share-is-lost",
            dest="accept_total_loss",
            action="store_true",
            help="Allow k = n (losing any single share then loses every record).",
        )
        how = init.add_mutually_exclusive_group()
        how.add_argument(
            "--prompt-passphrases",
            action="store_true",
            help="Ask each holder for a passphrase (typed twice; empty = none) for their file.",
        )
        how.add_argument(
            "--passphrase-env",
            metavar="PREFIX",
            help="Read holder i's passphrase from the variable PREFIX<i> (e.g. SHARE_PASS_1).",
        )
        init.add_argument(
            "--remove-key-file",
            action="store_true",
            help="After adopting an existing key file as the root key, delete it.",
        )
        actions.add_parser("status", help="Print sealed or unsealed (and the unseal progress).")
        now = actions.add_parser("now", help="Seal now: keyd drops the root key at once.")
        now.add_argument("--holder", default="", help="Who seals (audited). Default: system user.")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "init":
            self.init(options)
        elif action == "status":
            self.status()
        else:
            self.now(options["holder"] or f"cli:{getpass.getuser()}")

    def init(self, options: dict[str, Any]) -> None:
        out: Path = options["out"]
        if out.exists() and any(out.iterdir()):
            raise CommandError(f"{out} is not empty; give an empty or new directory.")
        total, threshold = options["shares"], options["threshold"]
        try:
            share_format.check_threshold(
                threshold, total, accept_total_loss=options["accept_total_loss"]
            )
        except share_format.ShareError as exc:
            raise CommandError(str(exc)) from None
        passphrases = self._passphrases(options, total)
        try:
            result = services_seal.seal_init(
                threshold=threshold,
                total=total,
                accept_total_loss=options["accept_total_loss"],
            )
        except services_seal.SealInitError as exc:
            raise CommandError(str(exc)) from None
        out.mkdir(parents=True, exist_ok=True, mode=0o700)
        for share in result.shares:
            passphrase = passphrases.get(share.index)
            text = share_format.lock(share, passphrase) if passphrase else share.text()
            path = out / f"refuge-{share.instance_id}-share-{share.index}-of-{share.total}.txt"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(text + "\n")
            self.stdout.write(f"  wrote {path}" + (" (passphrase-protected)" if passphrase else ""))
        record = result.record
        self.stdout.write(
            f"Sealed instance {record.instance_id}: {record.threshold} of {record.shares} shares "
            "unseal it. Hand one file to each holder, then delete the directory."
        )
        if result.migrated_key_file is not None:
            self._retire_key_file(result.migrated_key_file, remove=options["remove_key_file"])

    def _retire_key_file(self, path: Path, *, remove: bool) -> None:
        if remove:
            path.unlink()
            self.stdout.write(f"The key file {path} became the root key and has been deleted.")
            return
        self.stdout.write(
            f"The key file {path} became the root key. It is still on disk in plain form: "
            f"delete it now (shred -u {path}), or the seal protects nothing."
        )

    def _passphrases(self, options: dict[str, Any], total: int) -> dict[int, str]:
        found: dict[int, str] = {}
        if options["passphrase_env"]:
            for index in range(1, total + 1):
                value = os.environ.get(f"{options['passphrase_env']}{index}", "")
                if value:
                    found[index] = value
        elif options["prompt_passphrases"]:
            for index in range(1, total + 1):
                value = self._ask(index)
                if value:
                    found[index] = value
        return found

    def _ask(self, index: int) -> str:
        for _attempt in range(MAX_PASSPHRASE_TRIES):
            first = getpass.getpass(f"Passphrase for holder #{index} (empty for none): ")
            if not first:
                return ""
            if getpass.getpass("Again: ") == first:
                return first
            self.stderr.write("The two entries differ; try again.")
        raise CommandError("no passphrase agreed; nothing was written")

    def status(self) -> None:
        status = services_seal.seal_status()
        if not status.reachable:
            self.stdout.write("sealed (keyd cannot be reached)")
            return
        if not status.initialised:
            self.stdout.write("sealed (not initialised: run refuge seal init)")
        elif status.sealed:
            self.stdout.write(
                f"sealed ({status.progress}/{status.threshold} shares entered, "
                f"{status.shares} issued, instance {status.instance_id})"
            )
        else:
            self.stdout.write(f"unsealed (instance {status.instance_id})")

    def now(self, holder: str) -> None:
        try:
            services_seal.seal_now(actor=None, holder=holder)
        except sealing.SealedError:
            self.stdout.write("sealed (keyd cannot be reached: nothing holds the key)")
            return
        self.stdout.write("sealed")
