"""Explicit extension points between layers, instead of Django signals.

A lower layer (say `security`) must not import a higher one (`accounts`, `alerts`), yet the
higher one must learn when something happens below (the instance was sealed). The lower layer
declares a `Hook` and fires it; higher layers connect receivers from their AppConfig.ready(). A
hook is a module-level object with a name, so `grep` finds every side of it.

Each receiver runs inside its own savepoint. One that raises is rolled back to that savepoint
and logged (its error's type and place, never its message), and the next receiver still runs:
what fired the hook (an audited seal, a security notice) stands whatever a receiver does. A
receiver that must not fail silently should not be a hook receiver.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Generic, TypeVar

from django.db import transaction

from refuge.core.jobs import describe_error

logger = logging.getLogger(__name__)

T = TypeVar("T")


class Hook(Generic[T]):
    def __init__(self, name: str) -> None:
        self.name = name
        self._receivers: dict[str, Callable[[T], None]] = {}

    def connect(self, receiver: Callable[[T], None]) -> None:
        """Add `receiver` (idempotent: AppConfig.ready() may run more than once in tests)."""
        key = f"{receiver.__module__}.{getattr(receiver, '__qualname__', repr(receiver))}"
        self._receivers[key] = receiver

    def disconnect(self, receiver: Callable[[T], None]) -> None:
        key = f"{receiver.__module__}.{getattr(receiver, '__qualname__', repr(receiver))}"
        self._receivers.pop(key, None)

    @property
    def receivers(self) -> list[Callable[[T], None]]:
        return list(self._receivers.values())

    def fire(self, value: T) -> int:
        """Call every receiver with `value`; returns how many succeeded."""
        succeeded = 0
        for key, receiver in list(self._receivers.items()):
            try:
                with transaction.atomic():
                    receiver(value)
            except Exception as exc:  # noqa: BLE001 - one receiver must not undo what fired
                logger.error("hook %s: %s failed: %s", self.name, key, describe_error(exc))  # noqa: TRY400
            else:
                succeeded += 1
        return succeeded
