"""Deploy checks (`refuge check --deploy`): production must be sealed and must not be a demo."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.security, deploy=True)
def check_sealing(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    del app_configs, kwargs
    if settings.DEBUG and not settings.DEMO_MODE:
        return []
    errors: list[Error] = []
    if settings.KEY_MODE != "sealed" and not settings.DEMO_MODE:
        errors.append(
            Error(
                "REFUGE_KEY_MODE=keyfile keeps the master key in plain form on this disk.",
                hint="Production runs sealed: unset REFUGE_KEY_MODE, run `refuge seal init` and "
                "`refuge keyd` (docs/sealing.md).",
                id="refuge.security.E001",
            )
        )
    if settings.DEMO_MODE:
        errors.append(
            Error(
                "REFUGE_DEMO is set: demo accounts share a published password and the instance "
                "unseals itself.",
                hint="Unset REFUGE_DEMO outside the demo.",
                id="refuge.security.E002",
            )
        )
    if settings.DEMO_UNSEAL_FILE.exists():
        errors.append(
            Error(
                f"The demo unseal file {settings.DEMO_UNSEAL_FILE} exists: anyone with this disk "
                "can unseal.",
                hint="Delete it (shred -u). A production instance is unsealed by its key holders.",
                id="refuge.security.E003",
            )
        )
    return errors
