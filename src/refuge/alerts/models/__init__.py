"""The emergency line: emergencies and their timed events, check-ins, escalation, notifications.

Everything the alerting engine needs is T0 (pseudonymous, readable while sealed): pseudonyms,
deadlines, policies, staff channels. What was heard on a call and where it happened are T3/T2
fields under their own keys, and never go into a notification.
"""

from refuge.alerts.models.calls import CallRecord
from refuge.alerts.models.checkins import (
    ChannelBinding,
    Checkin,
    CheckinLink,
    CheckinSchedule,
    InboundMessage,
    SourceWindow,
)
from refuge.alerts.models.emergencies import (
    ACTIVE_STATES,
    Alert,
    Emergency,
    EmergencyEvent,
    EmergencySource,
    EmergencyState,
    Outcome,
    Priority,
)
from refuge.alerts.models.escalation import (
    EscalationPolicy,
    EscalationStep,
    Notification,
    NotificationAttempt,
    OnCallRota,
    RotaMember,
    RotaOverride,
    StaffChannel,
)
from refuge.alerts.models.notices import NoticeDelivery

__all__ = [
    "ACTIVE_STATES",
    "Alert",
    "CallRecord",
    "ChannelBinding",
    "Checkin",
    "CheckinLink",
    "CheckinSchedule",
    "Emergency",
    "EmergencyEvent",
    "EmergencySource",
    "EmergencyState",
    "EscalationPolicy",
    "EscalationStep",
    "InboundMessage",
    "NoticeDelivery",
    "Notification",
    "NotificationAttempt",
    "OnCallRota",
    "Outcome",
    "Priority",
    "RotaMember",
    "RotaOverride",
    "SourceWindow",
    "StaffChannel",
]
