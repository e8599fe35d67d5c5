"""Entry points the worker runs for the emergency line: tick hooks, called on every tick.

Order matters within a tick: missed check-ins are detected first (their alerts open or join
emergencies; `checkin_tasks`, imported here so it registers first), acknowledgements that expired
fall back to open, due escalation steps fire (writing notifications to the outbox), and then the
outbox is delivered, so a step's first messages go out in the same tick that fired it.
"""

from __future__ import annotations

from refuge.alerts import (
    checkin_tasks,  # noqa: F401 - registers missed check-in detection first
    smtp,
)
from refuge.alerts.services import delivery, escalation, notice_delivery
from refuge.core import jobs

# Seconds the worker's stop waits for sends still in flight, so their results are recorded.
STOP_DRAIN_SECONDS = 10.0


def _stop() -> None:
    delivery.drain(STOP_DRAIN_SECONDS)
    smtp.close_connections()


jobs.register_tick(
    "alerts.ack_expiry", escalation.ack_expiry_tick, next_due=escalation.next_ack_expiry
)
jobs.register_tick(
    "alerts.escalation", escalation.escalation_tick, next_due=escalation.next_escalation
)
jobs.register_tick("alerts.delivery", delivery.deliver_tick, next_due=delivery.next_attempt)
# After the emergency line's own messages: a security notice never delays a page.
jobs.register_tick("alerts.notice_delivery", notice_delivery.deliver_due_notices)
jobs.register_stop("alerts.delivery", _stop)
