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
