from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "refuge.accounts"
    label = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # django-axes announces lockouts only by signal; coordinators get a notice
        # (accounts.notices, security-design b.9).
        from axes.signals import user_locked_out  # noqa: PLC0415

        from refuge.accounts.notices import on_login_locked_out, on_seal_event  # noqa: PLC0415
        from refuge.accounts.seal_watch import TICK, seal_watch_tick  # noqa: PLC0415
        from refuge.core import jobs  # noqa: PLC0415
        from refuge.security.seal_events import seal_changed  # noqa: PLC0415

        user_locked_out.connect(on_login_locked_out, dispatch_uid="refuge-login-locked-out")
        # The seal's state changes and refused shares become notices too (security fires it).
        seal_changed.connect(on_seal_event)
        # ... and so does keyd losing the keys on its own (a crash, a restart, a reboot).
        jobs.register_tick(TICK, seal_watch_tick)
