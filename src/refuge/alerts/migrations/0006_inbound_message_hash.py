"""Inbound message ids are kept as keyed hashes (alerts.pins.inbound_message_hash): a Telegram
message id, `chat_id:message_id`, names the person's chat. Ids already stored (the last seven
days') are hashed in place, so a replay of one of them is still refused."""

from django.db import migrations, models


def hash_stored_ids(apps, schema_editor):
    from refuge.alerts import pins  # noqa: PLC0415 - the key lives outside the database

    inbound = apps.get_model("alerts", "InboundMessage")
    for row in inbound.objects.using(schema_editor.connection.alias).only("source", "message_id"):
        row.message_hash = pins.inbound_message_hash(row.source, row.message_id)
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
        migrations.RunPython(hash_stored_ids, migrations.RunPython.noop, elidable=True),
        migrations.RemoveField(model_name="inboundmessage", name="message_id"),
        migrations.AddConstraint(
            model_name="inboundmessage",
            constraint=models.UniqueConstraint(
                fields=("source", "message_hash"), name="alerts_inbound_once"
            ),
        ),
    ]
