"""`refuge backup FILE`: one encrypted archive of the database, the evidence files and the
check-in PIN key. Needs the keys (key file, or an unsealed server). See docs/backups.md."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from refuge.security.backup.archive import BackupError
from refuge.security.backup.services import backup_create


class Command(BaseCommand):
    help = "Write an encrypted backup archive of this instance to FILE."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", metavar="FILE", help="Where to write the archive.")
        parser.add_argument(
            "--force", action="store_true", help="Replace FILE if it exists already."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = backup_create(path=Path(options["file"]), force=options["force"])
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            _(
                "Backup written to %(path)s (%(size)s bytes): %(tables)s tables, %(rows)s rows, "
                "%(files)s evidence files. Archive %(id)s of instance %(instance)s (%(mode)s)."
            )
            % {
                "path": result.path,
                "size": result.size,
                "tables": result.tables,
                "rows": result.rows,
                "files": result.evidence_files,
                "id": result.archive_id,
                "instance": result.instance_id,
                "mode": result.key_mode,
            }
        )
