"""Writes of the emergency line's setup: who gets paged, and how.

Escalation policies (ordered steps), on-call rotas (members and overrides) and each staff member's
notification channels. Every write is atomic and audited in the same transaction. Coordinators
manage policies and rotas; every staff member manages their own channels and administrators
anyone's; for everyone else the objects do not exist (NotFoundError, a 404). `actor=None` is the
server's own command line. Audit details carry ids, kinds and numbers, never a channel's target.

Positions (of steps, rota members and channels) run 0, 1, 2, ... without gaps.
"""

from refuge.alerts.services.setup.channels import (
    staff_channel_add,
    staff_channel_move,
    staff_channel_remove,
    staff_channel_update,
    target_help,
)
from refuge.alerts.services.setup.common import (
    MAX_CHANNELS,
    MAX_DELAY_MINUTES,
    MAX_EN_ROUTE_MINUTES,
    MAX_MEMBERS,
    MAX_NAME,
    MAX_REPEAT,
    MAX_SHIFT_DAYS,
    MAX_STEPS,
    MAX_TARGET,
)
from refuge.alerts.services.setup.policies import (
    policy_create,
    policy_delete,
    policy_update,
    step_add,
    step_move,
    step_remove,
    step_update,
)
from refuge.alerts.services.setup.rotas import (
    rota_create,
    rota_delete,
    rota_member_add,
    rota_member_move,
    rota_member_remove,
    rota_override_add,
    rota_override_remove,
    rota_update,
)

__all__ = [
    "MAX_CHANNELS",
    "MAX_DELAY_MINUTES",
    "MAX_EN_ROUTE_MINUTES",
    "MAX_MEMBERS",
    "MAX_NAME",
    "MAX_REPEAT",
    "MAX_SHIFT_DAYS",
    "MAX_STEPS",
    "MAX_TARGET",
    "policy_create",
    "policy_delete",
    "policy_update",
    "rota_create",
    "rota_delete",
    "rota_member_add",
    "rota_member_move",
    "rota_member_remove",
    "rota_override_add",
    "rota_override_remove",
    "rota_update",
    "staff_channel_add",
    "staff_channel_move",
    "staff_channel_remove",
    "staff_channel_update",
    "step_add",
    "step_move",
    "step_remove",
    "step_update",
    "target_help",
]
