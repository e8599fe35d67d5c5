from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "refuge.cases"
    label = "cases"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from refuge.cases import access  # noqa: PLC0415 - registers the need-to-know rules

        access.register_rules()
