"""The shared demo password is public (scenario.md): it must never protect a real account."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

DEMO_PASSWORD = "refuge-demo"  # noqa: S105 - published on purpose, so it can be refused


def is_demo_password(password: str | None) -> bool:
    # Case and surrounding blanks do not make a published password any less public.
    return password is not None and password.strip().casefold() == DEMO_PASSWORD


def demo_password_allowed() -> bool:
    # Read at call time, so a server switched out of demo mode refuses it at once.
    return bool(settings.DEMO_MODE)


class DemoPasswordValidator:
    """Listed in AUTH_PASSWORD_VALIDATORS, so every password form and command refuses it."""

    def validate(self, password: str, user: Any = None) -> None:
        del user
        if is_demo_password(password) and not demo_password_allowed():
            raise ValidationError(
                _("This is the published demo password; it is only accepted in demo mode."),
                code="password_demo",
            )

    def get_help_text(self) -> str:
        return _("Your password cannot be the published demo password.")
