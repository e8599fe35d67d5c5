"""`refuge bidx rebuild`: recompute every blind index entry of protected people with the index
length L chosen for the current number of rows (security design b.5). Needs the master key."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from refuge.people import services


class Command(BaseCommand):
    help = "Blind index tools."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        actions.add_parser(
            "rebuild",
            help="Recompute every entry with the L for the current row count (run as R grows).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "rebuild":
            for result in services.blind_indexes_rebuild():
                self.stdout.write(
                    f"{result.kind}: {result.rows} entries, L={result.bits} bits, "
                    f"expected coincidences C={result.coincidences:.2f}"
                )
