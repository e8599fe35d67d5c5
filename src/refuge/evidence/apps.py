from django.apps import AppConfig


class EvidenceConfig(AppConfig):
    """Evidence files: encrypted at rest, hashed at intake, served only through access checks."""

    name = "refuge.evidence"
    label = "evidence"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from refuge.evidence import access, tasks  # noqa: F401, PLC0415 - registers rules and jobs

        access.register_rules()
