from django.apps import AppConfig


class PeopleConfig(AppConfig):
    name = "refuge.people"
    label = "people"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from refuge.people import tasks  # noqa: F401, PLC0415 - registers the people jobs
