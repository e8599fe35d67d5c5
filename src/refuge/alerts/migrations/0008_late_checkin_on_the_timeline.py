"""The schedule remembers the deadline last missed (CheckinSchedule.missed_deadline) until the
next check-in with a right PIN, which then goes on the emergency's timeline as a new kind of
event (EmergencyEvent.Kind.CHECKED_IN_LATE)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0007_checkin_alarm_without_jobs"),
    ]

    operations = [
        migrations.AddField(
            model_name="checkinschedule",
            name="missed_deadline",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="emergencyevent",
            name="kind",
            field=models.CharField(
                choices=[
                    ("opened", "Opened"),
                    ("joined", "Alert joined"),
                    ("escalated", "Escalated"),
                    ("notification_sent", "Notification sent"),
                    ("notification_failed", "Notification failed"),
                    ("acknowledged", "Acknowledged"),
                    ("ack_expired", "Acknowledgement expired"),
                    ("en_route", "On the way"),
                    ("on_site", "On site"),
                    ("note", "Note"),
                    ("time_corrected", "Time corrected"),
                    ("cancel_requested", "Cancelled by the person"),
                    ("checked_in_late", "Checked in after the missed deadline"),
                    ("resolved", "Resolved"),
                ],
                max_length=30,
            ),
        ),
    ]
