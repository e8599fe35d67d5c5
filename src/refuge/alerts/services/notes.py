"""Encrypted notes on an emergency's timeline.

Each note has a data key of its own. A new key can be made while the server is sealed (it is
wrapped for the intake key, see refuge.security.sealing), so staff can keep writing down what
they hear during an emergency even when nobody can read the emergency's older text. Notes
written before this change used the emergency's own data key; they are still read that way.
"""

from __future__ import annotations

import base64
import uuid
from typing import Any

from django.db import models

from refuge.alerts.models import Emergency, EmergencyEvent
from refuge.core import clock
from refuge.security.crypto import FieldContext
from refuge.security.fields import new_data_key, open_data_key, record_key
from refuge.security.models import DataKey
from refuge.security.provider import get_crypto
from refuge.security.sealing import SealedError

_NOTE_COLUMN = "data.note"

# What a note stands for when it holds text that would otherwise extend one of the emergency's
# own encrypted fields (which cannot be read, hence not extended, while sealed).
FIELD_HEARD = "heard"
FIELD_LOCATION_HINT = "location_hint"
FIELD_RESOLUTION_NOTE = "resolution_note"
_FIELDS = (FIELD_HEARD, FIELD_LOCATION_HINT, FIELD_RESOLUTION_NOTE)
# Events whose text (a note, the reason of a time correction) is encrypted this way.
TEXT_KINDS = (EmergencyEvent.Kind.NOTE, EmergencyEvent.Kind.TIME_CORRECTED)


def keys_open(record: models.Model, *key_fields: str) -> bool:
    """Whether the record's own data keys open (the server is unsealed). While sealed, new
    text goes into notes with keys of their own instead of extending the emergency's fields."""
    try:
        for key_field in key_fields:
            record_key(record, key_field)
    except SealedError:
        return False
    return True


def write_note(
    emergency: Emergency,
    *,
    actor: Any,
    text: str,
    field: str | None = None,
    kind: str = EmergencyEvent.Kind.NOTE,
    facts: dict[str, Any] | None = None,
) -> EmergencyEvent:
    """Append a NOTE event (or another kind with a text, such as a time correction and its
    reason) holding `text`, encrypted under a new data key of its own, next to the plain
    structured `facts`.

    A location hint gets a location key, like the emergency's own location hint. The caller
    holds the transaction and writes the audit entry."""
    if field is not None and field not in _FIELDS:
        raise ValueError(f"unknown note field {field!r}")
    if kind not in TEXT_KINDS:
        raise ValueError(f"events of kind {kind!r} carry no text")
    purpose = DataKey.Purpose.LOCATION if field == FIELD_LOCATION_HINT else DataKey.Purpose.RECORD
    key, dek = new_data_key(purpose)
    note = EmergencyEvent(
        id=uuid.uuid4(),
        emergency=emergency,
        kind=kind,
        at=clock.now(),
        actor=actor,
    )
    ciphertext = get_crypto().encrypt_field(dek, text, _context(note))
    data: dict[str, Any] = {
        **(facts or {}),
        "key": str(key.pk),
        "note": base64.b64encode(ciphertext).decode("ascii"),
    }
    if field is not None:
        data["field"] = field
    note.data = data
    note.save(force_insert=True)
    return note


def note_field(note: EmergencyEvent) -> str | None:
    """Which of the emergency's fields a note extends (None for an ordinary note)."""
    field = (note.data or {}).get("field")
    return field if field in _FIELDS else None


def event_note(note: EmergencyEvent) -> str | None:
    """The text of a note event (the caller has fetched the event through access)."""
    data = note.data or {}
    encoded = data.get("note")
    if note.kind not in TEXT_KINDS or not encoded:
        return None
    if data.get("key"):
        dek = open_data_key(DataKey.objects.get(pk=data["key"]))
    else:
        dek = record_key(note.emergency, "data_key")
    return get_crypto().decrypt_field(dek, base64.b64decode(encoded), _context(note))


def _context(note: EmergencyEvent) -> FieldContext:
    return FieldContext(
        table=EmergencyEvent._meta.db_table, column=_NOTE_COLUMN, row_id=str(note.pk)
    )
