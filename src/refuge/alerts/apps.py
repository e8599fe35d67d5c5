from django.apps import AppConfig


class AlertsConfig(AppConfig):
    """Emergencies, check-in schedules with duress PINs, escalation and notifications."""

    name = "refuge.alerts"
    label = "alerts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from refuge.alerts import access  # noqa: PLC0415 - registers the need-to-know rules

        access.register_rules()

        from refuge.alerts import tasks  # noqa: F401, PLC0415 - registers the worker's tick hooks
