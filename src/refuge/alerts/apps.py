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

        self._send_security_notices()

    @staticmethod
    def _send_security_notices() -> None:
        """Coordinators' security notices (accounts, a lower layer) go out on their channels."""
        from refuge.accounts import notices  # noqa: PLC0415
        from refuge.alerts.services import notice_delivery  # noqa: PLC0415

        notices.notice_raised.connect(notice_delivery.on_notice_raised)
        notices.register_delivery_reader(notice_delivery.deliveries_of)
