from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "refuge.core"
    label = "core"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from refuge.core import jobs, wal  # noqa: PLC0415 - models must be loaded first

        jobs.register_tick("core.sqlite_checkpoint", wal.checkpoint_tick)
