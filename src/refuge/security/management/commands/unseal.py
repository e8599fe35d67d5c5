"""`refuge unseal SHAREFILE`: give keyd one share (`-` reads it from standard input).

A passphrase-protected share file asks for its passphrase. The share is audited by holder
(`--holder`, default the system user), never by content.
"""

from __future__ import annotations

import getpass
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from refuge.security import sealing, services_seal
from refuge.security import shares as share_format


class Command(BaseCommand):
    requires_system_checks: list[str] = []
    help = "Enter one unseal share (from a file, or - for standard input)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("sharefile", help="The share file, or - to read standard input.")
        parser.add_argument(
            "--holder", default="", help="Who enters the share (audited). Default: system user."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        source = options["sharefile"]
        try:
            text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"cannot read the share: {exc}") from None
        passphrase = None
        if share_format.is_locked(text):
            passphrase = getpass.getpass("Passphrase of this share: ")
        holder = options["holder"] or f"cli:{getpass.getuser()}"
        try:
            status = services_seal.seal_unseal(
                actor=None, share_text=text, passphrase=passphrase, holder=holder
            )
        except share_format.ShareError as exc:
            raise CommandError(f"share refused: {exc}") from None
        except sealing.NotInitialisedError as exc:
            raise CommandError(str(exc)) from None
        except sealing.SealedError:
            raise CommandError("keyd cannot be reached: is `refuge keyd` running?") from None
        if status.sealed:
            self.stdout.write(
                f"share accepted: {status.progress} of {status.threshold} entered; still sealed"
            )
        else:
            self.stdout.write("unsealed")
