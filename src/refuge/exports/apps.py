from django.apps import AppConfig


class ExportsConfig(AppConfig):
    name = "refuge.exports"
    label = "exports"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from refuge.exports import access, tasks  # noqa: F401, PLC0415 - registers rules and jobs

        access.register_rules()
