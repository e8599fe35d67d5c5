"""Migration 0006 hashes the inbound message ids already stored, so a replay of one of them is
still refused after the upgrade."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from refuge.alerts import pins
from refuge.alerts.services import checkin_links

BEFORE = [("alerts", "0005_checkin_window_lockout_and_sos_limits")]
AFTER = [("alerts", "0006_inbound_message_hash")]


@pytest.mark.django_db(transaction=True)
def test_stored_message_ids_are_hashed_and_still_refused_as_replays(audit_truncatable):
    expected = pins.inbound_message_hash("telegram", "555001:42")  # with the PIN key in place
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old_apps = executor.loader.project_state(BEFORE).apps
    old_apps.get_model("alerts", "InboundMessage").objects.create(
        source="telegram", message_id="555001:42", received_at=dt.datetime.now(dt.UTC)
    )
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(AFTER)

    new_apps = executor.loader.project_state(AFTER).apps
    (stored,) = new_apps.get_model("alerts", "InboundMessage").objects.values_list(
        "source", "message_hash"
    )
    assert stored == ("telegram", expected)
    assert not checkin_links.inbound_accept(source="telegram", message_id="555001:42")
