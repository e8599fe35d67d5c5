"""Encrypted model fields (tiers T1-T3 of the security design).

`legal_name = EncryptedTextField()` stores ciphertext in the column `legal_name_ct` and exposes the
plaintext on `instance.legal_name`, like ForeignKey's `author` / `author_id`. Values are encrypted
on save under the record's own data key (or its location key), with associated data binding the
ciphertext to table, column and row id. Reading a value that does not authenticate raises
DecryptionError and appends an audit entry; it never returns the stored bytes.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any, NamedTuple, cast

from django.db import connections, models, router, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from refuge.core import clock, ids, rows
from refuge.security.crypto import (
    DecryptionError,
    FieldContext,
    KeyContext,
    wrapped_key_version,
)
from refuge.security.models import DataKey, KeyRing
from refuge.security.provider import get_crypto

_PENDING = "_refuge_plain_pending"
_CACHE = "_refuge_plain_cache"
_DEKS = "_refuge_deks"
_WRAPPED = "_refuge_wrapped"


class DataKeyField(models.OneToOneField):  # type: ignore[type-arg]
    """The record's own data key; created on first save if the record has none yet."""

    def __init__(self, *, purpose: str = DataKey.Purpose.RECORD, **kwargs: Any) -> None:
        self.purpose = purpose
        kwargs.setdefault("on_delete", models.PROTECT)
        kwargs.setdefault("related_name", "+")
        kwargs.setdefault("editable", False)
        kwargs["to"] = "security.DataKey"
        super().__init__(**kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        kwargs["purpose"] = self.purpose
        kwargs.pop("to", None)
        return name, path, args, kwargs

    def pre_save(self, model_instance: models.Model, add: bool) -> Any:
        # Only missing keys are created here; an existing one is not unwrapped, so saving a
        # record's plain columns works while sealed (e.g. acknowledging an emergency). The first
        # key field to find its key missing creates every missing key of the record at once:
        # one KEK-version read and one INSERT, not one of each per key (a new person has two).
        if getattr(model_instance, self.attname) is None:
            _create_keys(model_instance, _missing_key_fields(model_instance))
        return super().pre_save(model_instance, add)


def _missing_key_fields(instance: models.Model) -> list[DataKeyField]:
    return [field for field in _key_fields(instance) if getattr(instance, field.attname) is None]


def _current_kek_version(connection: BaseDatabaseWrapper) -> int:
    """The KEK version that wraps new keys, as stored now. Plain SQL because it runs whenever
    the process's last known version is out of date (see _new_keys)."""
    table = connection.ops.quote_name(KeyRing._meta.db_table)
    column = connection.ops.quote_name("current_kek_version")
    pk = connection.ops.quote_name("id")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE {pk} = %s", [1])  # noqa: S608
        row = cursor.fetchone()
    if row is None:
        ring, _created = KeyRing.objects.get_or_create(id=1)
        return ring.current_kek_version
    return int(row[0])


# The KEK version each database last reported, per alias. Only a guess: the INSERT of new keys
# checks it against the key ring in the same statement and writes nothing if a rotation has
# moved on since, and the keys are then wrapped again under the version read afresh. So a new
# record costs one statement for its keys, not a read and a write, and no key is ever written
# under a version that was not current when it was written.
_kek_version_seen: dict[str, int] = {}


class _NewKey(NamedTuple):
    id: uuid.UUID
    purpose: str
    kek_version: int
    wrapped: bytes
    dek: bytes
    created_at: dt.datetime

    def as_model(self, alias: str) -> DataKey:
        key = DataKey(
            id=self.id,
            purpose=self.purpose,
            kek_version=self.kek_version,
            wrapped=self.wrapped,
            created_at=self.created_at,
        )
        key._state.adding = False
        key._state.db = alias
        return key


_KEY_COLUMNS = ("id", "purpose", "kek_version", "wrapped", "created_at")


def _new_keys(purposes: Sequence[str]) -> tuple[str, list[_NewKey]]:
    """New data keys, saved, with their plaintexts, in the order of `purposes`, and the
    database they were saved in. They are written as rows, not built as models first: a new
    record pays for its keys, not for two model instances it never uses.

    While sealed, the keys are wrapped for the intake key (their wrapped form names KEK version
    0) and this process can still use them for this write."""
    alias = router.db_for_write(DataKey)
    connection = connections[alias]
    size = rows.rows_per_statement(connection, len(_KEY_COLUMNS) + 1)
    made: list[_NewKey] = []
    for start in range(0, len(purposes), size):
        made += _write_new_keys(connection, alias, purposes[start : start + size])
    return alias, made


def _write_new_keys(
    connection: BaseDatabaseWrapper, alias: str, purposes: Sequence[str]
) -> list[_NewKey]:
    """Keys for `purposes`, wrapped and written in one statement under the current version."""
    version = _kek_version_seen.get(alias)
    for _attempt in range(3):
        if version is None:
            version = _current_kek_version(connection)
        made = _wrapped_keys(purposes, version)
        if _insert_if_current(connection, made, version):
            _kek_version_seen[alias] = version
            return made
        version = None  # a rotation moved on (or the ring is new): read it and wrap again
    raise RuntimeError("the KEK version kept changing while new data keys were written")


def _wrapped_keys(purposes: Sequence[str], version: int) -> list[_NewKey]:
    crypto = get_crypto()
    now = clock.now()
    made: list[_NewKey] = []
    for purpose in purposes:
        key_id = ids.time_ordered_uuid()  # the key table's indexes grow at their end
        dek, wrapped = crypto.new_data_key(KeyContext(str(key_id), purpose), kek_version=version)
        made.append(_NewKey(key_id, purpose, wrapped_key_version(wrapped), wrapped, dek, now))
    return made


def _insert_if_current(
    connection: BaseDatabaseWrapper, made: Sequence[_NewKey], version: int
) -> bool:
    """INSERT the key rows `made` if `version` is still the key ring's current version; whether
    they were written. One statement for all of them, so it writes every row or none."""
    quote = connection.ops.quote_name
    fields = [cast("models.Field[Any, Any]", DataKey._meta.get_field(n)) for n in _KEY_COLUMNS]
    row = "(" + ", ".join(["%s"] * len(_KEY_COLUMNS)) + ")"
    sql = (
        f"INSERT INTO {quote(DataKey._meta.db_table)} "  # noqa: S608
        f"({', '.join(quote(name) for name in _KEY_COLUMNS)}) "
        f"SELECT * FROM (VALUES {', '.join([row] * len(made))}) AS new_keys "
        f"WHERE EXISTS (SELECT 1 FROM {quote(KeyRing._meta.db_table)} "
        f"WHERE {quote('id')} = 1 AND {quote('current_kek_version')} = %s)"
    )
    params: list[Any] = []
    for key in made:
        values = (key.id, key.purpose, key.kek_version, key.wrapped, key.created_at)
        params += [
            field.get_db_prep_save(value, connection)
            for field, value in zip(fields, values, strict=True)
        ]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, version])
        return bool(cursor.rowcount == len(made))


def new_data_key(purpose: str) -> tuple[DataKey, bytes]:
    """A new data key and its plaintext (see _new_keys)."""
    alias, (key,) = _new_keys([purpose])
    return key.as_model(alias), key.dek


def new_data_keys(purpose: str, count: int) -> list[DataKey]:
    """`count` new data keys written together, for records made in bulk (a surge of alerts).
    Their plaintexts are not kept: each is unwrapped when its record is first written."""
    alias, made = _new_keys([purpose] * count)
    return [key.as_model(alias) for key in made]


def open_data_key(key: DataKey) -> bytes:
    """The plaintext of a stored data key (needs the unsealed key service)."""
    return get_crypto().unwrap_key(bytes(key.wrapped), KeyContext(str(key.id), key.purpose))


def _create_keys(instance: models.Model, fields: Sequence[DataKeyField]) -> None:
    """New keys for `fields` of `instance`: their ids set, their plaintexts and wrapped forms
    kept on the instance (as if read), the relation itself left to load if ever asked for."""
    deks: dict[str, tuple[Any, bytes]] = instance.__dict__.setdefault(_DEKS, {})
    known: dict[uuid.UUID, tuple[str, bytes]] = instance.__dict__.setdefault(_WRAPPED, {})
    _alias, made = _new_keys([field.purpose for field in fields])
    for field, key in zip(fields, made, strict=True):
        setattr(instance, field.attname, key.id)
        deks[field.name] = (key.id, key.dek)
        known[key.id] = (key.purpose, key.wrapped)


def record_key(instance: models.Model, key_field: str) -> bytes:
    """The plaintext data key of `instance`'s `key_field`, creating the key if needed.

    An unwrapped key is kept on the instance (one unwrap per record, not one per field), tagged
    with the key's id: if the record is given another key, the old plaintext is not used."""
    deks: dict[str, tuple[Any, bytes]] = instance.__dict__.setdefault(_DEKS, {})
    field = cast("DataKeyField", instance._meta.get_field(key_field))
    key_id = getattr(instance, field.attname)
    cached = deks.get(key_field)
    if cached is not None and key_id is not None and cached[0] == key_id:
        return cached[1]
    if key_id is None:
        _create_keys(instance, [field])
        return deks[key_field][1]
    purpose, wrapped = _stored_key(instance, field, key_id)
    dek = get_crypto().unwrap_key(wrapped, KeyContext(str(key_id), purpose))
    deks[key_field] = (key_id, dek)
    return dek


def _stored_key(instance: models.Model, field: DataKeyField, key_id: Any) -> tuple[str, bytes]:
    """The purpose and wrapped form of the key row `key_id` of `instance`'s `field`.

    A key row loaded with the record (select_related, or just created) is used as it is.
    Otherwise every key row of the record that is not known yet is read in one plain-SQL
    query: a person's two keys cost one indexed read, not one ORM query each, and a record
    loaded on its own needs no join (the ORM's select_related costs more than the query)."""
    if field.is_cached(instance):
        key = cast("DataKey | None", field.get_cached_value(instance))
        if key is not None and key.pk == key_id:
            return key.purpose, bytes(key.wrapped)
    known: dict[uuid.UUID, tuple[str, bytes]] = instance.__dict__.setdefault(_WRAPPED, {})
    wanted = _as_uuid(key_id)
    if wanted not in known:
        unknown = {wanted}
        for other in _key_fields(instance):
            other_id = getattr(instance, other.attname)
            if other_id is not None and _as_uuid(other_id) not in known:
                unknown.add(_as_uuid(other_id))
        known.update(_read_wrapped(instance._state.db or router.db_for_read(DataKey), unknown))
    if wanted not in known:
        raise DataKey.DoesNotExist(f"data key {wanted} of {instance._meta.label} is missing")
    return known[wanted]


def _key_fields(instance: models.Model) -> list[DataKeyField]:
    return [f for f in instance._meta.concrete_fields if isinstance(f, DataKeyField)]


def _as_uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def _read_wrapped(alias: str, key_ids: set[uuid.UUID]) -> dict[uuid.UUID, tuple[str, bytes]]:
    connection = connections[alias]
    pk = DataKey._meta.pk
    params = [pk.get_db_prep_value(key_id, connection) for key_id in key_ids]
    quote = connection.ops.quote_name
    sql = (
        f"SELECT {quote('id')}, {quote('purpose')}, {quote('wrapped')} "  # noqa: S608
        f"FROM {quote(DataKey._meta.db_table)} WHERE {quote('id')} IN "
        f"({', '.join(['%s'] * len(params))})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {_as_uuid(row[0]): (row[1], bytes(row[2])) for row in cursor.fetchall()}


class _EncryptedAttribute:
    def __init__(self, field: EncryptedTextField) -> None:
        self.field = field

    def __get__(self, instance: models.Model | None, owner: type | None = None) -> Any:
        if instance is None:
            return self
        name = self.field.name
        pending: dict[str, Any] = instance.__dict__.get(_PENDING, {})
        if name in pending:
            return pending[name]
        stored = instance.__dict__.get(self.field.attname)
        if stored is None:
            return None
        ciphertext = bytes(stored)
        # A value decrypted once is kept on the instance, for the ciphertext, key and row it
        # was decrypted with: a record given another key or row id is decrypted (and checked)
        # again, never answered from what the old one held.
        tag = self.field.cache_tag(instance, ciphertext)
        cache: dict[str, tuple[Any, Any]] = instance.__dict__.setdefault(_CACHE, {})
        if name in cache and cache[name][0] == tag:
            return cache[name][1]
        context = self.field.context(instance)
        try:
            dek = record_key(instance, self.field.key_field)
            text = get_crypto().decrypt_field(dek, ciphertext, context)
        except DecryptionError:
            _audit_failure(instance, context)
            raise DecryptionError(
                f"Could not decrypt {context}: the value was moved, tampered with, or the key "
                "does not match. The failure has been recorded in the audit log."
            ) from None
        value = self.field.from_text(text)
        cache[name] = (tag, value)
        return value

    def __set__(self, instance: models.Model, value: Any) -> None:
        instance.__dict__.setdefault(_PENDING, {})[self.field.name] = self.field.clean_value(value)


def _audit_failure(instance: models.Model, context: FieldContext) -> None:
    from refuge.security import audit  # noqa: PLC0415 - audit imports models; avoid a cycle at import

    with transaction.atomic():
        audit.record(
            "refuge.security.decryption.failed",
            actor=None,
            obj=instance,
            detail={"table": context.table, "column": context.column},
        )


class EncryptedTextField(models.BinaryField):  # type: ignore[type-arg]
    """Text encrypted at rest. Empty strings and None are both stored as NULL."""

    def __init__(self, *args: Any, key_field: str = "data_key", **kwargs: Any) -> None:
        self.key_field = key_field
        kwargs["null"] = True
        kwargs["blank"] = True
        kwargs["editable"] = False
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        kwargs["key_field"] = self.key_field
        for key in ("null", "blank", "editable"):
            kwargs.pop(key, None)
        return name, path, args, kwargs

    def get_attname(self) -> str:
        return f"{self.name}_ct"

    def contribute_to_class(
        self, cls: type[models.Model], name: str, private_only: bool = False
    ) -> None:
        super().contribute_to_class(cls, name, private_only=private_only)
        setattr(cls, name, _EncryptedAttribute(self))

    def context(self, instance: models.Model) -> FieldContext:
        return FieldContext(
            table=instance._meta.db_table, column=self.get_attname(), row_id=str(instance.pk)
        )

    def cache_tag(self, instance: models.Model, ciphertext: bytes) -> tuple[bytes, Any, str]:
        key_field = cast("DataKeyField", instance._meta.get_field(self.key_field))
        key_id = getattr(instance, key_field.attname)
        return ciphertext, key_id, str(instance.pk)

    def clean_value(self, value: Any) -> Any:
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise TypeError(f"{self.name} takes text, not {type(value).__name__}")
        return value

    def to_text(self, value: Any) -> str:
        return str(value)

    def from_text(self, text: str) -> Any:
        return text

    def pre_save(self, model_instance: models.Model, add: bool) -> Any:
        pending: dict[str, Any] = model_instance.__dict__.get(_PENDING, {})
        if self.name in pending:
            value = pending.pop(self.name)
            if value is None:
                ciphertext = None
            else:
                dek = record_key(model_instance, self.key_field)
                ciphertext = get_crypto().encrypt_field(
                    dek, self.to_text(value), self.context(model_instance)
                )
                tag = self.cache_tag(model_instance, ciphertext)
                model_instance.__dict__.setdefault(_CACHE, {})[self.name] = (tag, value)
            setattr(model_instance, self.attname, ciphertext)
        return getattr(model_instance, self.attname)


class EncryptedDateField(EncryptedTextField):
    """A date encrypted at rest (stored as ISO text inside the ciphertext)."""

    def clean_value(self, value: Any) -> Any:
        if value is None or value == "":
            return None
        if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
            raise TypeError(f"{self.name} takes a date")
        return value

    def to_text(self, value: Any) -> str:
        return cast("dt.date", value).isoformat()

    def from_text(self, text: str) -> Any:
        return dt.date.fromisoformat(text)
