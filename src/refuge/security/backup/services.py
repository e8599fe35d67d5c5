"""`backup_create`: one encrypted archive with the whole database, the evidence files and the
check-in PIN key (see archive.py for the format and docs/backups.md for operators)."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.apps.registry import Apps
from django.conf import settings
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.recorder import MigrationRecorder
from django.utils.translation import gettext as _

from refuge.core import clock
from refuge.security import audit, sealing
from refuge.security.backup import keys, tables
from refuge.security.backup.archive import (
    FORMAT_VERSION,
    PIN_KEY,
    BackupError,
    Header,
    Writer,
    valid_name,
)
from refuge.security.crypto import wrapped_key_version
from refuge.security.models import KeyRing
from refuge.security.provider import get_crypto

READ_BYTES = 1 << 20


@dataclass(frozen=True)
class BackupResult:
    path: Path
    archive_id: str
    instance_id: str
    key_mode: str
    tables: int
    rows: int
    evidence_files: int
    size: int


def evidence_dir() -> Path:
    return Path(getattr(settings, "EVIDENCE_DIR", Path(settings.VAR_DIR) / "evidence"))


def read_file(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(READ_BYTES):
            yield chunk


def applied_migrations() -> list[list[str]]:
    return sorted([app, name] for app, name in MigrationRecorder(connection).applied_migrations())


def migrated_models() -> Apps:
    """The models as the applied migrations define them: exactly the tables in the database,
    and what `refuge restore` rebuilds from the same migrations."""
    executor = MigrationExecutor(connection)
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        raise BackupError(_("The database has unapplied migrations: run `refuge migrate` first."))
    return executor.loader.project_state().apps


@contextlib.contextmanager
def _snapshot() -> Iterator[None]:
    """One consistent view of every table, without stopping writers (check-ins go on)."""
    if connection.vendor == "postgresql":
        outermost = not connection.in_atomic_block
        with transaction.atomic():
            if outermost:
                with connection.cursor() as cursor:
                    cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield
        return
    # SQLite in WAL mode: a DEFERRED read transaction sees one snapshot and, unlike the IMMEDIATE
    # transactions Refuge writes with, holds no lock that would make a check-in wait.
    saved = getattr(connection, "transaction_mode", None)
    connection.ensure_connection()
    connection.transaction_mode = "DEFERRED"  # type: ignore[attr-defined]
    try:
        with transaction.atomic():
            connection.transaction_mode = saved  # type: ignore[attr-defined]
            yield
    finally:
        connection.transaction_mode = saved  # type: ignore[attr-defined]


class _Contents:
    """The plaintext stream, produced lazily while it is being encrypted and written."""

    def __init__(self, manifest: dict[str, Any], registry: Apps) -> None:
        self.registry = registry
        self.writer = Writer()
        self.manifest = manifest
        self.rows = 0
        self.tables = 0
        self.evidence_files = 0

    def __iter__(self) -> Iterator[bytes]:
        table_digests: dict[str, Any] = {}
        with _snapshot():
            self.manifest["migrations"] = applied_migrations()
            for model in tables.dumped_models(self.registry):
                digest = tables.Digest()
                yield from self.writer.file(tables.file_name(model), tables.dump(model, digest))
                table_digests[model._meta.label_lower] = digest.as_dict()
                self.rows += digest.count
                self.tables += 1
        self.manifest["tables"] = table_digests
        directory = evidence_dir()
        for path in sorted(directory.glob("*.bin")) if directory.is_dir() else []:
            yield from self.writer.file(f"evidence/{path.name}", read_file(path))
            self.evidence_files += 1
        pin_key = Path(settings.PIN_KEY_FILE)
        self.manifest["pin_key"] = pin_key.exists()
        if pin_key.exists():
            yield from self.writer.file(PIN_KEY, read_file(pin_key))
        yield from self.writer.finish(self.manifest)


def _check_evidence_names() -> None:
    directory = evidence_dir()
    for path in sorted(directory.glob("*.bin")) if directory.is_dir() else []:
        if not valid_name(f"evidence/{path.name}"):
            raise BackupError(
                _(
                    "Evidence file %(name)s has an unexpected name; move it out of %(dir)s or "
                    "rename it."
                )
                % {"name": path.name, "dir": directory}
            )


def _open_part(path: Path, *, force: bool) -> tuple[Path, int]:
    if path.exists() and not force:
        raise BackupError(
            _("%(path)s exists already; choose another name or pass --force.") % {"path": path}
        )
    if not path.parent.is_dir():
        raise BackupError(_("The directory %(dir)s does not exist.") % {"dir": path.parent})
    part = path.with_name(path.name + ".part")
    if part.exists():
        if not force:
            raise BackupError(
                _("%(part)s exists (an interrupted backup?); remove it or pass --force.")
                % {"part": part}
            )
        part.unlink()
    return part, os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _kek_version() -> int:
    version = KeyRing.objects.filter(id=1).values_list("current_kek_version", flat=True).first()
    return int(version or 1)


def backup_create(
    *, path: Path, force: bool = False, actor: audit.Actor | None = None
) -> BackupResult:
    """Write the archive to `path` (mode 0600, via `path.part`, fsync, rename)."""
    registry = migrated_models()
    _check_evidence_names()
    mode = keys.key_mode()
    try:
        crypto = get_crypto()
        seal = sealing.seal_record() if mode == keys.SEALED else None
        if mode == keys.SEALED and seal is None:
            raise BackupError(
                _("This instance is in sealed mode but has no seal: run `refuge seal init`.")
            )
        archive_id = str(uuid.uuid4())
        version = _kek_version()
        archive_key, wrapped = crypto.new_data_key(keys.context(archive_id), kek_version=version)
        instance = keys.instance_id(crypto, seal)
    except sealing.SealedError:
        raise BackupError(
            _("The server is sealed: a backup needs the keys. Unseal it first (refuge unseal).")
        ) from None
    seal_json = None
    if seal is not None:
        import json  # noqa: PLC0415 - only here

        seal_json = json.loads(seal.to_json())
    # The wrapped key names its own KEK version (0 when sealed to the intake key while sealed).
    wrapped_with = wrapped_key_version(wrapped)
    header = Header(archive_id, instance, mode, wrapped_with, wrapped, seal_json).to_bytes()
    contents = _Contents(
        {
            "format": FORMAT_VERSION,
            "archive_id": archive_id,
            "instance_id": instance,
            "key_mode": mode,
            "created_at": clock.now().isoformat(),
            "database": connection.vendor,
        },
        registry,
    )
    part, fd = _open_part(path, force=force)
    size = 0
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(header)
            size += len(header)
            for block in crypto.encrypt_stream(archive_key, contents, aad=header):
                out.write(block)
                size += len(block)
            out.flush()
            os.fsync(out.fileno())
        part.replace(path)
        _fsync_directory(path.parent)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    with transaction.atomic():
        audit.record(
            "refuge.security.backup.created",
            actor=actor,
            object_type="security.backup",
            object_id=archive_id,
            detail={
                "tables": contents.tables,
                "rows": contents.rows,
                "evidence_files": contents.evidence_files,
                "bytes": size,
                "key_mode": mode,
            },
        )
    return BackupResult(
        path=path,
        archive_id=archive_id,
        instance_id=instance,
        key_mode=mode,
        tables=contents.tables,
        rows=contents.rows,
        evidence_files=contents.evidence_files,
        size=size,
    )
