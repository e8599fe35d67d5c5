from django.apps import AppConfig


class IntakeConfig(AppConfig):
    """The edges where signals arrive: the protected person's SOS and check-in page, the signed
    SMS-gateway webhook and the Telegram bot. Owns no domain model; calls the alerts services."""

    name = "refuge.intake"
    label = "intake"

    def ready(self) -> None:
        from refuge.intake import logs  # noqa: PLC0415

        logs.install()
