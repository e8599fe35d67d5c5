"""A duress check-in's alarm is raised by the worker's tick, found through a partial index
(Checkin.alarm_raised_at), instead of by a follow-up job queued for every check-in.

The follow-up jobs still queued are deleted: the duress check-ins they were for have no
alarm_raised_at yet, so the tick raises them (an alarm raised already is not raised twice: its
alert's dedupe key `duress:<check-in>` is taken)."""

from django.db import migrations, models

_FOLLOWUP_JOB = "alerts.checkin_followup"


def _delete_followup_jobs(apps, schema_editor):
    apps.get_model("core", "Job").objects.filter(name=_FOLLOWUP_JOB).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0006_inbound_message_hash"),
        ("core", "0001_jobs_and_heartbeats"),
    ]

    operations = [
        migrations.AddField(
            model_name="checkin",
            name="alarm_raised_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name="checkin",
            index=models.Index(
                condition=models.Q(("alarm_raised_at__isnull", True), ("under_duress", True)),
                fields=["at"],
                name="alerts_checkin_alarm_due",
            ),
        ),
        migrations.RunPython(_delete_followup_jobs, migrations.RunPython.noop),
    ]
