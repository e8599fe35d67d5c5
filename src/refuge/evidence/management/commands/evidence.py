"""`refuge evidence verify [--all | ID]`: decrypt and re-hash stored evidence files against the
SHA-256 recorded at intake; exit 1 if any does not match (each result is in the custody log).
`refuge evidence clean`: run the janitor now (orphaned upload and storage files)."""

from __future__ import annotations

import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from refuge.evidence import selectors, services
from refuge.evidence.models import EvidenceFile


class Command(BaseCommand):
    help = "Evidence file tools."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        verify = actions.add_parser(
            "verify", help="Re-decrypt and re-hash stored files; exit 1 on any mismatch."
        )
        which = verify.add_mutually_exclusive_group(required=True)
        which.add_argument("--all", action="store_true", help="Every stored file.")
        which.add_argument("evidence_id", nargs="?", help="One file's id.")
        actions.add_parser("clean", help="Remove orphaned upload and storage files now.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "clean":
            result = services.evidence_clean_orphans()
            self.stdout.write(
                f"removed {result.parts} abandoned upload files and {result.orphans} "
                "stored files without a record"
            )
            return
        self.verify(self._files(options))

    def _files(self, options: dict[str, Any]) -> list[EvidenceFile]:
        if options["all"]:
            return list(selectors.evidence_all())
        try:
            evidence_id = uuid.UUID(str(options["evidence_id"]))
        except ValueError:
            raise CommandError(f"{options['evidence_id']!r} is not an evidence id") from None
        evidence = selectors.evidence_by_id(evidence_id)
        if evidence is None:
            raise CommandError(f"no evidence file with id {evidence_id}")
        return [evidence]

    def verify(self, files: list[EvidenceFile]) -> None:
        bad = 0
        for evidence in files:
            problem = services.evidence_verify(actor=None, evidence=evidence)
            if problem:
                bad += 1
                self.stderr.write(f"MISMATCH {evidence.pk}: {problem}")
            else:
                self.stdout.write(f"ok {evidence.pk} sha256={evidence.sha256}")
        self.stdout.write(f"{len(files)} checked, {bad} failed")
        if bad:
            raise SystemExit(1)
