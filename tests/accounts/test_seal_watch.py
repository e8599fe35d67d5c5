"""keyd losing the keys on its own (a crash, a restart, a reboot) reaches the coordinators as
"Refuge was sealed", once, from the worker's tick."""

from __future__ import annotations

import pytest

from refuge.accounts import seal_watch
from refuge.accounts.models import SecurityNotice
from refuge.core import jobs
from refuge.security import services_seal
from refuge.security.models import AuditEntry
from tests.security import sealed_instance as sealed_support

pytestmark = pytest.mark.django_db
sealed_instance = sealed_support.sealed_instance  # the fixture

Kind = SecurityNotice.Kind


def _unseal_through_the_service(instance) -> None:  # type: ignore[no-untyped-def]
    for share in instance.result.shares[: instance.result.record.threshold]:
        services_seal.seal_unseal(actor=None, share_text=share.text(), holder="cli:root")


def _kinds() -> list[str]:
    return list(SecurityNotice.objects.order_by("created_at").values_list("kind", flat=True))


def test_nothing_to_watch_with_a_key_file(cast):
    assert seal_watch.seal_watch_tick() == 0


def test_sealed_since_the_start_raises_nothing(cast, sealed_instance):
    assert seal_watch.seal_watch_tick() == 0
    assert _kinds() == []


def test_keyd_losing_the_keys_is_told_once(cast, sealed_instance):
    _unseal_through_the_service(sealed_instance)
    assert seal_watch.seal_watch_tick() == 0  # unsealed: nothing to say
    sealed_instance.seal()  # keyd restarted: sealed, and nobody pressed "Seal now"
    assert seal_watch.seal_watch_tick() == 1
    assert _kinds() == [Kind.UNSEALED, Kind.SEALED]
    assert SecurityNotice.objects.get(kind=Kind.SEALED).user is None
    assert AuditEntry.objects.filter(action="refuge.accounts.seal.lost").count() == 1
    assert seal_watch.seal_watch_tick() == 0  # said once


def test_seal_now_is_not_told_twice(cast, sealed_instance):
    _unseal_through_the_service(sealed_instance)
    services_seal.seal_now(actor=cast.coordinator, holder="coordinator")
    assert seal_watch.seal_watch_tick() == 0
    assert _kinds() == [Kind.UNSEALED, Kind.SEALED]


def test_the_worker_runs_it_before_sending(cast, sealed_instance):
    names = list(jobs.registered_ticks())
    assert names.index(seal_watch.TICK) < names.index("alerts.notice_delivery")
