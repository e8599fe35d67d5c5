"""Domain errors that interfaces (views, API, CLI) turn into clear 4xx messages."""

from __future__ import annotations

from collections.abc import Mapping


class DomainError(Exception):
    """A request that is understood but refused; the message is shown to the user (translated)."""

    def __init__(
        self, message: str, *, field_errors: Mapping[str, list[str]] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field_errors: dict[str, list[str]] = dict(field_errors or {})


class NotFoundError(Exception):
    """Does not exist *or* not allowed: the two are indistinguishable on purpose (404)."""


class RoleNotAllowedError(Exception):
    """A page the actor's role may never use: HTTP 403 with `message`, which says who uses it.

    Only for pages that name no object (a list, a "new" form, a search). A URL that names an
    object answers NotFoundError (404) to everyone without need-to-know on it, whatever their
    role, so that an id never tells whether the object exists."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
