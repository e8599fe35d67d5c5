"""`audit.record_many`: several entries with one read of the head, the same chain as `record`."""

from __future__ import annotations

import pytest
from django.db import transaction

from refuge.security import audit
from refuge.security.models import AuditEntry
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
ACTION = "refuge.security.test.recorded"


def test_many_entries_extend_the_chain_that_verifies():
    audit.record(ACTION, actor=None, object_type="tests.thing", object_id="0")
    actor = UserFactory()
    audit.record_many(
        [
            audit.Entry(ACTION, object_type="tests.thing", object_id=str(n), detail={"n": n})
            for n in range(1, 6)
        ]
        + [audit.Entry(ACTION, actor=actor, object_type="tests.thing", object_id="6")]
    )
    audit.record(ACTION, actor=None, object_type="tests.thing", object_id="7")

    entries = list(AuditEntry.objects.order_by("seq"))
    assert [e.seq for e in entries] == list(range(1, 9))
    assert [e.object_id for e in entries] == [str(n) for n in range(8)]
    assert entries[6].actor_id == actor.pk
    assert entries[6].actor_label == actor.get_username()
    assert audit.verify().ok


def test_nothing_to_record_writes_nothing():
    assert audit.record_many([]) == []
    assert not AuditEntry.objects.exists()


def test_a_bad_action_code_writes_none_of_the_batch():
    with pytest.raises(ValueError, match="audit action codes"):
        audit.record_many([audit.Entry(ACTION, object_id="1"), audit.Entry("bad", object_id="2")])
    assert not AuditEntry.objects.exists()


def test_the_entries_roll_back_with_the_change():
    with transaction.atomic():
        audit.record_many([audit.Entry(ACTION, object_id="1")])
        transaction.set_rollback(True)
    assert not AuditEntry.objects.exists()
