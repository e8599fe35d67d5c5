"""`refuge audit verify`: recompute the audit hash chain and name the first entry that was edited,
deleted, inserted or reordered. Exits 1 when the chain is broken, so monitoring can alert on it.
Whatever the table holds (an id that is not a UUID, NULLs, a truncated hash), the answer is a
report, never a traceback."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from refuge.security import audit


class Command(BaseCommand):
    # Verification must work on a damaged installation too; it reads the audit table only.
    requires_system_checks: list[str] = []
    help = "Audit trail tools."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        actions.add_parser(
            "verify",
            help="Recompute the hash chain; exit 1 and name the first bad entry if broken.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "verify":
            self.verify()

    def verify(self) -> None:
        result = audit.verify()
        if result.ok:
            self.stdout.write(f"audit chain OK: {result.checked} entries")
            return
        where = f"entry #{result.seq}" if result.seq is not None else "an entry"
        if result.entry_id:
            where += f" (id {result.entry_id})"
        self.stderr.write(
            f"audit chain BROKEN at {where}: {result.problem}. "
            f"{result.checked} entries before it verified."
        )
        raise SystemExit(1)
