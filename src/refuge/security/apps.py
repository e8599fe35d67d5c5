from django.apps import AppConfig


class SecurityConfig(AppConfig):
    name = "refuge.security"
    label = "security"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from refuge.security import checks  # noqa: F401, PLC0415 - registers the deploy checks
