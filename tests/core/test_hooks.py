"""core.hooks: a lower layer fires, higher layers receive; a failing receiver is rolled back
alone, logged without its message, and never undoes what fired the hook."""

from __future__ import annotations

import logging

import pytest
from django.db import transaction

from refuge.accounts.models import Team
from refuge.core.hooks import Hook

pytestmark = pytest.mark.django_db


def test_every_receiver_gets_the_value():
    hook: Hook[int] = Hook("tests.numbers")
    seen: list[tuple[str, int]] = []

    def first(value: int) -> None:
        seen.append(("first", value))

    def second(value: int) -> None:
        seen.append(("second", value))

    hook.connect(first)
    hook.connect(second)
    assert hook.fire(7) == 2
    assert seen == [("first", 7), ("second", 7)]


def test_connecting_twice_registers_once():
    hook: Hook[int] = Hook("tests.once")
    seen: list[int] = []

    def receiver(value: int) -> None:
        seen.append(value)

    hook.connect(receiver)
    hook.connect(receiver)
    hook.fire(1)
    assert seen == [1]
    hook.disconnect(receiver)
    assert hook.fire(2) == 0


def test_a_failing_receiver_is_rolled_back_alone_and_logged_without_its_message(caplog):
    hook: Hook[str] = Hook("tests.teams")

    def writes_then_fails(name: str) -> None:
        Team.objects.create(name=f"{name} (failed)")
        raise RuntimeError("the secret value is Testaev")

    def writes(name: str) -> None:
        Team.objects.create(name=name)

    hook.connect(writes_then_fails)
    hook.connect(writes)
    with transaction.atomic():
        Team.objects.create(name="what fired the hook")
        assert hook.fire("Kept") == 1
    assert set(Team.objects.values_list("name", flat=True)) == {"what fired the hook", "Kept"}
    assert "tests.teams" in caplog.text
    assert "RuntimeError" in caplog.text
    assert "Testaev" not in caplog.text
    assert any(r.levelno == logging.ERROR for r in caplog.records)
