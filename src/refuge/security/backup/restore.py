"""`backup_restore`: rebuild an empty instance from an archive.

Order matters, so that bad input changes nothing:
1. refuse unless the instance is empty (no rows beyond what `migrate` writes, no evidence files,
   no different PIN key or master key in the way);
2. open the archive key (key file, or k shares and the seal record in the header);
3. read the whole archive once without writing anything: header authenticated as associated data,
   every chunk authenticated, the final tag present, each file's SHA-256 equal to the manifest's;
4. bring the schema to the archive's migrations, then in ONE transaction: insert every row, check
   each table's digest against the manifest, verify the audit chain, append the restore's own
   audit entry; write evidence files and the PIN key beside it (fsync, rename) just before the
   commit, and remove them again if anything fails;
5. apply any newer migrations of this release.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.apps.registry import Apps
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import connection, models, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils.translation import gettext as _

from refuge.security import audit, services_seal
from refuge.security.backup import keys, tables
from refuge.security.backup.archive import (
    MANIFEST,
    PIN_KEY,
    BackupError,
    Entry,
    Header,
    entries,
    read_header,
    read_small,
)
from refuge.security.backup.services import evidence_dir, read_file
from refuge.security.crypto import DecryptionError


@dataclass
class RestoreResult:
    archive_id: str
    instance_id: str
    key_mode: str
    created_at: str
    rows: int = 0
    tables: int = 0
    evidence_files: int = 0
    share_indexes: list[int] = field(default_factory=list)
    audit_entries: int = 0


@dataclass
class _Opened:
    header: Header
    raw_header: bytes
    key: keys.OpenedKey


def _header_of(path: Path) -> tuple[Header, bytes]:
    if not path.is_file():
        raise BackupError(_("%(path)s does not exist or is not a file.") % {"path": path})
    header, raw, _rest = read_header(read_file(path))
    return header, raw


def _entries(path: Path, opened: _Opened) -> Iterator[Entry]:
    _header, raw, rest = read_header(read_file(path))
    if raw != opened.raw_header:
        raise BackupError(_("The archive changed while it was being restored."))
    plaintext = opened.key.crypto.decrypt_stream(opened.key.archive_key, rest, aad=raw)
    return entries(_authenticated(plaintext))


def _authenticated(plaintext: Iterator[bytes]) -> Iterator[bytes]:
    try:
        yield from plaintext
    except DecryptionError:
        raise BackupError(
            _("The archive does not authenticate: it was altered, truncated or damaged.")
        ) from None


def _hash(chunks: Iterator[bytes]) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    for chunk in chunks:
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def _verify(path: Path, opened: _Opened) -> tuple[dict[str, Any], bytes | None]:
    """Read everything once, writing nothing; return the manifest (and the PIN key, which is
    checked against the one in place before anything is written) once it all checks out."""
    seen: dict[str, dict[str, Any]] = {}
    manifest: dict[str, Any] | None = None
    pin_key: bytes | None = None
    for entry in _entries(path, opened):
        if manifest is not None:
            raise BackupError(_("The archive's contents are malformed (data after the manifest)."))
        if entry.name == MANIFEST:
            try:
                manifest = json.loads(read_small(entry.chunks))
            except ValueError:
                raise BackupError(_("The archive's manifest is damaged.")) from None
            continue
        if entry.name in seen:
            raise BackupError(_("The archive holds %(name)s twice.") % {"name": entry.name})
        if entry.name == PIN_KEY:
            pin_key = read_small(entry.chunks, 1 << 12)
            sha256, size = hashlib.sha256(pin_key).hexdigest(), len(pin_key)
        else:
            sha256, size = _hash(entry.chunks)
        seen[entry.name] = {"sha256": sha256, "bytes": size}
    if not isinstance(manifest, dict):
        raise BackupError(_("The archive has no manifest."))
    _check_manifest(manifest, seen, opened.header)
    return manifest, pin_key


def _check_manifest(manifest: dict[str, Any], seen: dict[str, Any], header: Header) -> None:
    if manifest.get("files") != seen:
        raise BackupError(_("The archive's files do not match its manifest (SHA-256)."))
    if (manifest.get("archive_id"), manifest.get("instance_id")) != (
        header.archive_id,
        header.instance_id,
    ):
        raise BackupError(_("The archive's manifest does not belong to its header."))
    if not isinstance(manifest.get("tables"), dict) or not isinstance(
        manifest.get("migrations"), list
    ):
        raise BackupError(_("The archive's manifest is damaged."))


def _refuse_unless_empty(header: Header, given: keys.RestoreKeys) -> None:
    if header.key_mode != keys.key_mode():
        raise BackupError(
            _(
                "This archive comes from an instance in %(theirs)s mode, but this one runs in "
                "%(ours)s mode; set REFUGE_KEY_MODE=%(theirs)s first."
            )
            % {"theirs": header.key_mode, "ours": keys.key_mode()}
        )
    _require_empty_tables()
    directory = evidence_dir()
    if directory.is_dir() and any(directory.glob("*.bin")):
        raise BackupError(
            _("Restore needs an empty instance, but %(dir)s already holds evidence files.")
            % {"dir": directory}
        )
    seal_copy, seal_path = _seal_copy(header), services_seal.seal_record_path()
    if seal_copy is not None and seal_path.exists() and seal_path.read_bytes() != seal_copy:
        raise BackupError(
            _("A different seal record already exists at %(path)s. Move it away first.")
            % {"path": seal_path}
        )
    if header.key_mode == keys.KEYFILE and given.key_file is not None:
        target = Path(settings.KEY_FILE)
        if (
            target.exists()
            and target.resolve() != given.key_file.resolve()
            and target.read_bytes() != given.key_file.read_bytes()
        ):
            raise BackupError(
                _(
                    "A different master key file already exists at %(path)s; it would be "
                    "replaced. Move it away first."
                )
                % {"path": target}
            )


def _check_pin_key(content: bytes | None) -> None:
    target = Path(settings.PIN_KEY_FILE)
    if content is not None and target.exists() and target.read_bytes() != content:
        raise BackupError(
            _(
                "A different PIN key file already exists at %(path)s; check-ins would break. Move "
                "it away first."
            )
            % {"path": target}
        )


def _migration_targets(
    manifest: dict[str, Any], executor: MigrationExecutor
) -> list[tuple[str, str | None]]:
    graph = executor.loader.graph
    recorded = {(str(app), str(name)) for app, name in manifest["migrations"]}
    # A squashed migration is recorded under its own name and those it replaces.
    replaced = {key for squash in executor.loader.replacements.values() for key in squash.replaces}
    unknown = sorted(recorded - set(graph.nodes) - replaced)
    archived = recorded & set(graph.nodes)
    if unknown:
        raise BackupError(
            _(
                "This archive was made by a newer Refuge (migration %(name)s is unknown here): "
                "restore it with that release or a later one."
            )
            % {"name": ".".join(unknown[0])}
        )
    targets: list[tuple[str, str | None]] = []
    for app in sorted({app for app, _name in archived}):
        nodes = {node for node in archived if node[0] == app}
        parents = {parent.key for node in nodes for parent in graph.node_map[node].parents}
        targets += sorted(node for node in nodes if node not in parents)
    targets += [
        (app, None) for app in sorted(executor.loader.migrated_apps - {a for a, _n in archived})
    ]
    return targets


def _schema(manifest: dict[str, Any]) -> Apps:
    """Create the tables exactly as the archive's release had them; return its models."""
    executor = MigrationExecutor(connection)
    targets = _migration_targets(manifest, executor)
    executor.migrate(targets, plan=executor.migration_plan(targets))
    nodes = [(app, name) for app, name in targets if name is not None]
    return executor.loader.project_state(nodes, at_end=True).apps


class _Files:
    """Evidence files and the PIN key, written beside their final names until the commit."""

    def __init__(self) -> None:
        self.parts: list[tuple[Path, Path]] = []
        self.placed: list[Path] = []

    def write(self, target: Path, chunks: Iterator[bytes]) -> str:
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        part = target.with_name(target.name + ".restore-part")
        part.unlink(missing_ok=True)
        self.parts.append((part, target))
        digest = hashlib.sha256()
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        return digest.hexdigest()

    def write_checked(self, target: Path, chunks: Iterator[bytes], expected: str | None) -> None:
        if self.write(target, chunks) != expected:
            raise BackupError(_("The archive changed while it was being restored."))

    def place(self) -> None:
        for part, target in self.parts:
            if target.exists() and target.read_bytes() == part.read_bytes():
                part.unlink()
                continue
            part.replace(target)
            self.placed.append(target)
        for directory in {target.parent for _part, target in self.parts}:
            fd = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def discard(self) -> None:
        for part, _target in self.parts:
            part.unlink(missing_ok=True)
        for target in self.placed:
            target.unlink(missing_ok=True)


def _load(
    path: Path,
    opened: _Opened,
    *,
    manifest: dict[str, Any],
    registry: Apps,
    files: _Files,
    result: RestoreResult,
) -> None:
    loaded: list[type[models.Model]] = []
    for entry in _entries(path, opened):
        expected = manifest["files"].get(entry.name, {}).get("sha256")
        if entry.name.startswith("db/"):
            label = entry.name.removeprefix("db/").removesuffix(".jsonl")
            model, count = tables.load(
                registry, _hashing(entry.chunks, expected, entry.name), expected_label=label
            )
            loaded.append(model)
            result.rows += count
            result.tables += 1
        elif entry.name.startswith("evidence/"):
            name = entry.name.removeprefix("evidence/")
            files.write_checked(evidence_dir() / name, entry.chunks, expected)
            result.evidence_files += 1
        elif entry.name == PIN_KEY:
            files.write_checked(Path(settings.PIN_KEY_FILE), entry.chunks, expected)
    tables.reset_sequences(loaded)
    for model in loaded:
        label = model._meta.label_lower
        if tables.digest_of(model) != manifest["tables"].get(label):
            raise BackupError(
                _("Table %(label)s does not hold what the archive holds after loading.")
                % {"label": label}
            )


def _hashing(chunks: Iterator[bytes], expected: str | None, name: str) -> Iterator[bytes]:
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
        yield chunk
    if digest.hexdigest() != expected:
        raise BackupError(
            _("The archive changed while it was being restored (%(name)s).") % {"name": name}
        )


def _require_empty_tables() -> None:
    busy = tables.existing_rows()
    if busy:
        raise BackupError(
            _(
                "Restore needs an empty instance, but the database already holds data "
                "(%(tables)s). Restore into a fresh database."
            )
            % {"tables": ", ".join(busy[:5])}
        )


def _verified_chain() -> audit.VerifyResult:
    chain = audit.verify()
    if not chain.ok:
        raise BackupError(
            _("The restored audit chain does not verify: %(problem)s") % {"problem": chain.problem}
        )
    return chain


def backup_restore(
    *, path: Path, given: keys.RestoreKeys, actor: audit.Actor | None = None
) -> RestoreResult:
    header, raw = _header_of(path)
    _refuse_unless_empty(header, given)
    opened = _Opened(header, raw, keys.open_archive_key(header, given))
    manifest, pin_key = _verify(path, opened)
    _check_pin_key(pin_key)
    result = RestoreResult(
        archive_id=header.archive_id,
        instance_id=header.instance_id,
        key_mode=header.key_mode,
        created_at=str(manifest.get("created_at", "")),
        share_indexes=opened.key.share_indexes,
    )
    registry = _schema(manifest)
    files = _Files()
    try:
        with transaction.atomic():
            _require_empty_tables()
            tables.clear_migrate_writes()
            _load(path, opened, manifest=manifest, registry=registry, files=files, result=result)
            chain = _verified_chain()
            result.audit_entries = chain.checked
            audit.record(
                "refuge.security.backup.restored",
                actor=actor,
                object_type="security.backup",
                object_id=header.archive_id,
                detail={
                    "archive_created_at": result.created_at,
                    "instance_id": header.instance_id,
                    "key_mode": header.key_mode,
                    "share_indexes": result.share_indexes,
                    "rows": result.rows,
                    "tables": result.tables,
                    "evidence_files": result.evidence_files,
                    "audit_entries_verified": chain.checked,
                },
            )
            _install_key_file(header, given, files)
            _install_seal_copy(header, files)
            files.place()
    except BaseException:
        files.discard()
        raise
    ContentType.objects.clear_cache()
    call_command("migrate", interactive=False, verbosity=0)
    return result


def _install_key_file(header: Header, given: keys.RestoreKeys, files: _Files) -> None:
    """Keyfile mode: the restored instance reads its master key from REFUGE_KEY_FILE."""
    if header.key_mode != keys.KEYFILE or given.key_file is None:
        return
    target = Path(settings.KEY_FILE)
    if not target.exists():  # an existing one was checked before: the same key
        files.write(target, read_file(given.key_file))


def _seal_copy(header: Header) -> bytes | None:
    if header.key_mode != keys.SEALED or header.seal is None:
        return None
    return (keys.seal_record(header).to_json() + "\n").encode()


def _install_seal_copy(header: Header, files: _Files) -> None:
    """Sealed mode: the copy of the public seal record under var/, as `seal init` leaves it."""
    content = _seal_copy(header)
    if content is not None:
        files.write(services_seal.seal_record_path(), iter([content]))
