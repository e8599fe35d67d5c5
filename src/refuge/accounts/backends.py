"""Password authentication that refuses the published demo password outside demo mode."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest
from typing_extensions import override

from refuge.accounts.models import User
from refuge.accounts.validators import demo_password_allowed, is_demo_password


def _refuse_demo(user: User | None, password: str | None) -> User | None:
    if user is not None and is_demo_password(password) and not demo_password_allowed():
        return None
    return user


class RefugeModelBackend(ModelBackend):
    """A database restored from a demo, or an account seeded with the demo password, must not be
    reachable with a password printed in the README once demo mode is off.

    The hash is always checked first, so the refusal takes the same time as any other wrong
    password and the login page cannot tell the two apart.
    """

    @override
    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        user = super().authenticate(request, username=username, password=password, **kwargs)
        return _refuse_demo(user, password)

    @override
    async def aauthenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        user = await super().aauthenticate(request, username=username, password=password, **kwargs)
        return _refuse_demo(user, password)
