"""Inbound message ids are kept as keyed hashes (alerts.pins.inbound_message_hash): a Telegram
message id, `chat_id:message_id`, names the person's chat. Ids already stored (the last seven
days') are hashed in place, so a replay of one of them is still refused.

The hash is computed here with the standard library (keyed BLAKE2b, 32 bytes: the same function
as PyNaCl's, a test compares them) and the PIN key file read as alerts.pins reads it, because a
migration imports no app code (house style 9.8). Without a PIN key file no check-in PIN was
ever set and no hash could match later: the stored ids are then dropped."""

import base64
import hashlib
from pathlib import Path

from django.conf import settings
from django.db import migrations, models

_HEADER = "refuge-pin-key:v1:"


def _pin_key() -> bytes | None:
    path = Path(settings.PIN_KEY_FILE)
    if not path.exists():
        return None
    text = path.read_text(encoding="ascii").strip()
    if not text.startswith(_HEADER):
        raise RuntimeError(f"PIN key file {path} is not a Refuge PIN key file.")
    return base64.b64decode(text[len(_HEADER) :], validate=True)


def _hash_stored_ids(apps, schema_editor):
    inbound = apps.get_model("alerts", "InboundMessage").objects.using(
        schema_editor.connection.alias
    )
    if not inbound.exists():
        return
    key = _pin_key()
    if key is None:
        inbound.all().delete()
        return
    for row in inbound.only("source", "message_id"):
        message = f"refuge/inbound/v1|{row.source}|{row.message_id}".encode()
        digest = hashlib.blake2b(message, key=key, digest_size=32).hexdigest()
        row.message_hash = "v1$" + digest
        row.save(update_fields=["message_hash"])


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0005_checkin_window_lockout_and_sos_limits"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="inboundmessage", name="alerts_inbound_once"),
        migrations.AddField(
            model_name="inboundmessage",
            name="message_hash",
            field=models.CharField(default="", max_length=128),
            preserve_default=False,
        ),
        migrations.RunPython(_hash_stored_ids, migrations.RunPython.noop, elidable=True),
        migrations.RemoveField(model_name="inboundmessage", name="message_id"),
        migrations.AddConstraint(
            model_name="inboundmessage",
            constraint=models.UniqueConstraint(
                fields=("source", "message_hash"), name="alerts_inbound_once"
            ),
        ),
    ]
