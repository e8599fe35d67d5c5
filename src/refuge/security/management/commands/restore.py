"""`refuge restore FILE [--share SHAREFILE ...] [--key-file PATH]`: rebuild an empty instance
from a backup archive. Sealed instances' archives need k shares (passphrase-protected share files
are asked for their passphrase); key-file instances' archives need the master key file."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from refuge.security.backup.archive import BackupError
from refuge.security.backup.keys import RestoreKeys
from refuge.security.backup.restore import backup_restore

_MAX_SHARE_FILE_BYTES = 1 << 14


class Command(BaseCommand):
    help = "Restore a backup archive into an empty instance."
    # An empty instance may have no tables yet: restore creates them.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", metavar="FILE", help="The archive written by refuge backup.")
        parser.add_argument(
            "--share",
            action="append",
            default=[],
            metavar="SHAREFILE",
            help="A share file (repeat for k shares); archives of sealed instances need them.",
        )
        parser.add_argument(
            "--key-file",
            type=Path,
            metavar="PATH",
            help="The master key file; archives of key-file instances need it "
            "(default: REFUGE_KEY_FILE).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        given = RestoreKeys(
            key_file=options["key_file"],
            shares=[(name, self._read_share(name)) for name in options["share"]],
            passphrase=lambda origin: getpass.getpass(
                _("Passphrase of share file %(file)s: ") % {"file": origin}
            ),
        )
        try:
            result = backup_restore(path=Path(options["file"]), given=given)
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            _(
                "Restored archive %(id)s of instance %(instance)s (made %(created)s): "
                "%(tables)s tables, %(rows)s rows, %(files)s evidence files; "
                "audit chain verified (%(entries)s entries)."
            )
            % {
                "id": result.archive_id,
                "instance": result.instance_id,
                "created": result.created_at,
                "tables": result.tables,
                "rows": result.rows,
                "files": result.evidence_files,
                "entries": result.audit_entries,
            }
        )
        if result.share_indexes:
            self.stdout.write(
                _("Shares used: %(indexes)s (recorded in the audit log).")
                % {"indexes": ", ".join(f"#{i}" for i in result.share_indexes)}
            )

    def _read_share(self, name: str) -> str:
        path = Path(name)
        try:
            if path.stat().st_size > _MAX_SHARE_FILE_BYTES:
                raise CommandError(_("%(file)s is too large to be a share file.") % {"file": name})
            return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(
                _("Cannot read share file %(file)s: %(error)s") % {"file": name, "error": exc}
            ) from None
