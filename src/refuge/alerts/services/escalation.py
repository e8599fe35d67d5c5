"""The escalation engine (after Grafana OnCall and PagerDuty).

The default policy is frozen onto each emergency when it opens (`freeze_policy`), so editing a
policy never changes an emergency already running. `escalation_tick` fires the step at index
`escalation_step` of that snapshot when `next_escalation_at` has passed; the UPDATE that moves to
the next step compares the step and round it read, so a step that fires late or twice (two
workers, a retried tick) is ignored. Each firing writes one Notification per recipient (the
outbox, delivered by `services.delivery`) in the same transaction.

After the last step the whole policy runs again `repeat` more times; after that the last step is
repeated every RENOTIFY minutes until someone acknowledges. Without a default policy the line
(active coordinators and operators) is paged, and a step whose target resolves to nobody pages
them too: an emergency never pages nobody.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils.crypto import salted_hmac

from refuge.accounts.models import Role, User
from refuge.alerts import rota
from refuge.alerts.models import (
    Emergency,
    EmergencyEvent,
    EmergencyState,
    EscalationPolicy,
    EscalationStep,
    Notification,
    OnCallRota,
    StaffChannel,
)
from refuge.core import clock, jobs, rows
from refuge.security import audit

logger = logging.getLogger(__name__)

# The line: who is paged when there is no policy, or when a step resolves to nobody.
LINE = "line"
RENOTIFY = dt.timedelta(minutes=5)
_CASE_TARGETS = {EscalationStep.Target.CASE_LAWYER, EscalationStep.Target.CASE_TEAM}
DEFAULT_EN_ROUTE_MINUTES = 10
_BATCH = 100


def freeze_policy() -> dict[str, Any]:
    """The default policy as plain data, stored on the emergency when it opens."""
    policy = EscalationPolicy.objects.filter(is_default=True).first()
    if policy is None:
        return {
            "policy": None,
            "name": "",
            "repeat": 0,
            "en_route_within_minutes": DEFAULT_EN_ROUTE_MINUTES,
            "renotify_minutes": int(RENOTIFY.total_seconds() // 60),
            "steps": [_line_step()],
        }
    steps = [
        {
            "position": step.position,
            "delay_minutes": step.delay_minutes,
            "target": step.target,
            "user": str(step.user_id) if step.user_id else None,
            "rota": str(step.rota_id) if step.rota_id else None,
            "channel_kinds": [str(kind) for kind in step.channel_kinds or []],
        }
        for step in EscalationStep.objects.filter(policy=policy).order_by("position")
    ]
    return {
        "policy": str(policy.pk),
        "name": policy.name,
        "repeat": policy.repeat,
        "en_route_within_minutes": policy.en_route_within_minutes,
        "renotify_minutes": int(RENOTIFY.total_seconds() // 60),
        "steps": steps or [_line_step()],
    }


def _line_step() -> dict[str, Any]:
    return {
        "position": 0,
        "delay_minutes": 0,
        "target": LINE,
        "user": None,
        "rota": None,
        "channel_kinds": [],
    }


def en_route_within(emergency: Emergency) -> dt.timedelta:
    minutes = emergency.policy_snapshot.get("en_route_within_minutes", DEFAULT_EN_ROUTE_MINUTES)
    return dt.timedelta(minutes=int(minutes))


def ack_token(notification_id: Any) -> str:
    """The one-time acknowledgement token of a notification. Derived from the signing key, so
    the worker can put it into the message while the database keeps only its digest."""
    return salted_hmac("refuge.alerts.ack", str(notification_id), algorithm="sha256").hexdigest()


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def event(
    emergency: Emergency,
    kind: str,
    *,
    actor: User | None = None,
    at: dt.datetime | None = None,
    data: dict[str, Any] | None = None,
) -> EmergencyEvent:
    """Append one timed event (structured facts only: ids, codes, pseudonyms; no identities)."""
    return EmergencyEvent.objects.create(
        emergency=emergency, kind=kind, at=at or clock.now(), actor=actor, data=data or {}
    )


def cancel_pending(emergency: Emergency) -> int:
    """Stop paging: pending notifications of the emergency are cancelled (not deleted)."""
    return Notification.objects.filter(
        emergency=emergency, state=Notification.State.PENDING
    ).update(state=Notification.State.CANCELLED, locked_until=None)


def next_escalation() -> dt.datetime | None:
    """When the next step of an open emergency falls due (the index on state, time)."""
    return (
        Emergency.objects.filter(state=EmergencyState.OPEN, next_escalation_at__isnull=False)
        .order_by("next_escalation_at")
        .values_list("next_escalation_at", flat=True)
        .first()
    )


def next_ack_expiry() -> dt.datetime | None:
    """When the next acknowledgement runs out without "on my way"."""
    return (
        Emergency.objects.filter(state=EmergencyState.ACKNOWLEDGED, ack_expires_at__isnull=False)
        .order_by("ack_expires_at")
        .values_list("ack_expires_at", flat=True)
        .first()
    )


def escalation_tick(now: dt.datetime | None = None) -> int:
    """Fire every due step of open emergencies; return how many steps fired.

    Touches only what is due (index on state, next_escalation_at). Each emergency is handled in
    its own transaction, so one that fails is logged and retried next tick without holding up
    the others."""
    now = now or clock.now()
    due = list(
        Emergency.objects.filter(state=EmergencyState.OPEN, next_escalation_at__lte=now)
        .order_by("next_escalation_at")
        .values_list("pk", flat=True)[:_BATCH]
    )
    fired = 0
    for pk in due:
        try:
            fired += _fire_due(pk, now)
        except Exception as exc:  # noqa: BLE001 - one broken emergency must not stop the others
            # No traceback: exception messages can quote the values that failed.
            logger.error(  # noqa: TRY400
                "escalation of emergency %s failed: %s", pk, jobs.describe_error(exc)
            )
    return fired


def _fire_due(pk: Any, now: dt.datetime) -> int:
    with transaction.atomic():
        locked = Emergency.objects.filter(
            pk=pk, state=EmergencyState.OPEN, next_escalation_at__lte=now
        )
        if connection.vendor == "postgresql":
            locked = locked.select_for_update(skip_locked=True)
        emergency = locked.first()
        if emergency is None:
            return 0  # another worker has it, or it was acknowledged meanwhile
        return 1 if fire_step(emergency, now) else 0


def fire_step(emergency: Emergency, now: dt.datetime) -> bool:
    """Fire the step `emergency` points at and move on. False when the step was already fired
    (the compare-and-set on step and round found them changed): a late or repeated firing."""
    snapshot = emergency.policy_snapshot or {}
    steps: list[dict[str, Any]] = snapshot.get("steps") or [_line_step()]
    index = min(emergency.escalation_step, len(steps) - 1)
    current_round = emergency.escalation_round
    next_index, next_round, next_at = _after(snapshot, steps, index, current_round, now)
    claimed = Emergency.objects.filter(
        pk=emergency.pk,
        state=EmergencyState.OPEN,
        escalation_step=emergency.escalation_step,
        escalation_round=current_round,
    ).update(escalation_step=next_index, escalation_round=next_round, next_escalation_at=next_at)
    if not claimed:
        return False
    step = steps[index]
    recipients, fallback = recipients_for(emergency, step, now)
    _notify(emergency, recipients, step=step, index=index, round_=current_round, now=now)
    due_at = emergency.next_escalation_at or now
    emergency.escalation_step, emergency.escalation_round = next_index, next_round
    emergency.next_escalation_at = next_at
    event(
        emergency,
        EmergencyEvent.Kind.ESCALATED,
        at=now,
        data={
            "step": index,
            "round": current_round,
            "target": step.get("target", LINE),
            "recipients": [str(user.pk) for user in recipients],
            "fallback": fallback,
            "late_seconds": max(0, int((now - due_at).total_seconds())),
        },
    )
    audit.record(
        "refuge.alerts.emergency.escalated",
        actor=None,
        obj=emergency,
        detail={
            "code": emergency.code,
            "step": index,
            "round": current_round,
            "recipients": [str(user.pk) for user in recipients],
        },
    )
    if not recipients:
        logger.error("emergency %s: step %d pages nobody (no active staff)", emergency.code, index)
    return True


def fire_first_steps(fresh: Sequence[Emergency], now: dt.datetime) -> None:
    """Fire the first step of emergencies opened in the current transaction, all at once (a
    surge of alerts): the rows `fire_step` would write, with one UPDATE, one INSERT per table,
    and the recipients of a step that does not depend on the case resolved once. Emergencies
    nobody else can see yet need no compare-and-set."""
    if not fresh:
        return
    recipients_cache: dict[str, tuple[list[User], bool]] = {}
    channels_cache: dict[Any, StaffChannel | None] = {}
    notifications: list[Notification] = []
    events: list[EmergencyEvent] = []
    entries: list[audit.Entry] = []
    for emergency in fresh:
        snapshot = emergency.policy_snapshot or {}
        steps: list[dict[str, Any]] = snapshot.get("steps") or [_line_step()]
        step = steps[0]
        emergency.escalation_step, emergency.escalation_round, emergency.next_escalation_at = (
            _after(snapshot, steps, 0, 0, now)
        )
        key = f"{step.get('target')}:{step.get('rota')}:{step.get('user')}"
        if step.get("target") in _CASE_TARGETS:
            recipients, fallback = recipients_for(emergency, step, now)
        else:
            if key not in recipients_cache:
                recipients_cache[key] = recipients_for(emergency, step, now)
            recipients, fallback = recipients_cache[key]
        kinds = [str(kind) for kind in step.get("channel_kinds") or []]
        for user in recipients:
            channel_key = (user.pk, tuple(kinds))
            if channel_key not in channels_cache:
                channels_cache[channel_key] = first_channel(user, kinds)
            notifications.append(
                _notification(
                    emergency, user, index=0, round_=0, channel=channels_cache[channel_key], now=now
                )
            )
        facts = {"step": 0, "round": 0, "recipients": [str(user.pk) for user in recipients]}
        events.append(
            EmergencyEvent(
                emergency=emergency,
                kind=EmergencyEvent.Kind.ESCALATED,
                at=now,
                data={**facts, "target": step.get("target", LINE), "fallback": fallback},
            )
        )
        entries.append(
            audit.Entry(
                "refuge.alerts.emergency.escalated",
                obj=emergency,
                detail={"code": emergency.code, **facts},
            )
        )
        if not recipients:
            logger.error("emergency %s: step 0 pages nobody (no active staff)", emergency.code)
    plans: dict[tuple[Any, ...], list[Any]] = {}
    for emergency in fresh:
        plan = (emergency.escalation_step, emergency.escalation_round, emergency.next_escalation_at)
        plans.setdefault(plan, []).append(emergency.pk)
    for (step_index, round_, next_at), pks in plans.items():  # one UPDATE per policy, usually
        Emergency.objects.filter(pk__in=pks).update(
            escalation_step=step_index, escalation_round=round_, next_escalation_at=next_at
        )
    rows.insert(notifications)  # new emergencies: no notification of theirs can exist yet
    rows.insert(events)
    audit.record_many(entries)


def _after(
    snapshot: dict[str, Any],
    steps: list[dict[str, Any]],
    index: int,
    current_round: int,
    now: dt.datetime,
) -> tuple[int, int, dt.datetime]:
    """(step, round, when) of the next firing after step `index` of round `current_round`."""
    renotify = dt.timedelta(minutes=int(snapshot.get("renotify_minutes") or 5))
    if index + 1 < len(steps):
        return index + 1, current_round, now + _delay(steps[index + 1])
    if current_round < int(snapshot.get("repeat") or 0):
        return 0, current_round + 1, now + max(_delay(steps[0]), renotify)
    # Every round done: stay on the last step until someone acknowledges.
    return len(steps) - 1, current_round + 1, now + renotify


def _delay(step: dict[str, Any]) -> dt.timedelta:
    return dt.timedelta(minutes=int(step.get("delay_minutes") or 0))


def recipients_for(
    emergency: Emergency, step: dict[str, Any], now: dt.datetime
) -> tuple[list[User], bool]:
    """Who a step pages (active staff only), and whether the line was paged instead because the
    step's target resolved to nobody."""
    try:
        users = _target_users(emergency, step, now)
    except (ValueError, ValidationError, TypeError):
        # A snapshot naming a rota or user that cannot be read: page the line instead.
        logger.warning("emergency %s: a step's target could not be resolved", emergency.code)
        users = []
    if users:
        return users, False
    return _line(), step.get("target") != LINE


def _target_users(emergency: Emergency, step: dict[str, Any], now: dt.datetime) -> list[User]:
    target = step.get("target")
    active = User.objects.filter(is_active=True).order_by("username")
    rota_id, user_id = step.get("rota"), step.get("user")
    if target == EscalationStep.Target.ON_CALL:
        found = OnCallRota.objects.filter(pk=str(rota_id)).first() if rota_id else None
        user = rota.on_call(found, now) if found is not None else None
        return [user] if user is not None else []
    if target == EscalationStep.Target.USER:
        return list(active.filter(pk=str(user_id))) if user_id else []
    if target == EscalationStep.Target.COORDINATORS:
        return list(active.filter(role=Role.COORDINATOR))
    if target in {EscalationStep.Target.CASE_LAWYER, EscalationStep.Target.CASE_TEAM}:
        members = active.filter(memberships__team_id__in=_team_ids(emergency)).distinct()
        if target == EscalationStep.Target.CASE_LAWYER:
            members = members.filter(role=Role.LAWYER)
        return list(members)
    return _line() if target == LINE else []


def _team_ids(emergency: Emergency) -> set[Any]:
    teams = set(emergency.cases.values_list("team_id", flat=True))
    if emergency.team_id is not None:
        teams.add(emergency.team_id)
    return teams


def _line() -> list[User]:
    return list(
        User.objects.filter(is_active=True, role__in=[Role.COORDINATOR, Role.OPERATOR]).order_by(
            "role", "username"
        )
    )


def _notify(
    emergency: Emergency,
    recipients: Iterable[User],
    *,
    step: dict[str, Any],
    index: int,
    round_: int,
    now: dt.datetime,
) -> list[Notification]:
    """Write the outbox rows, in the transaction that decided to notify."""
    kinds = [str(kind) for kind in step.get("channel_kinds") or []]
    made = [
        _notification(
            emergency, user, index=index, round_=round_, channel=first_channel(user, kinds), now=now
        )
        for user in recipients
    ]
    return Notification.objects.bulk_create(made, ignore_conflicts=True)


def _notification(
    emergency: Emergency,
    user: User,
    *,
    index: int,
    round_: int,
    channel: StaffChannel | None,
    now: dt.datetime,
) -> Notification:
    notification = Notification(
        id=uuid.uuid4(),
        emergency=emergency,
        recipient=user,
        step=index,
        round=round_,
        idempotency_key=f"{emergency.pk}:{round_}:{index}:{user.pk}",
        channel=channel,
        next_attempt_at=now,
    )
    notification.ack_token_digest = token_digest(ack_token(notification.pk))
    return notification


def channels_of(user: User) -> list[StaffChannel]:
    return list(StaffChannel.objects.filter(user=user, active=True).order_by("position", "id"))


def first_channel(user: User, kinds: Sequence[str]) -> StaffChannel | None:
    """The recipient's first active channel of the step's kinds, else their first channel."""
    channels = channels_of(user)
    for channel in channels:
        if not kinds or channel.kind in kinds:
            return channel
    return channels[0] if channels else None


def ack_expiry_tick(now: dt.datetime | None = None) -> int:
    """Acknowledgements not followed by "on my way" in time fall back to open; escalation
    resumes at once from the step after the last one fired. Returns how many fell back."""
    now = now or clock.now()
    due = list(
        Emergency.objects.filter(state=EmergencyState.ACKNOWLEDGED, ack_expires_at__lte=now)
        .order_by("ack_expires_at")
        .values_list("pk", flat=True)[:_BATCH]
    )
    expired = 0
    for pk in due:
        try:
            expired += _expire(pk, now)
        except Exception as exc:  # noqa: BLE001 - one broken emergency must not stop the others
            logger.error(  # noqa: TRY400 - no traceback: messages can quote data
                "ack expiry of emergency %s failed: %s", pk, jobs.describe_error(exc)
            )
    return expired


def _expire(pk: Any, now: dt.datetime) -> int:
    with transaction.atomic():
        locked = Emergency.objects.filter(
            pk=pk, state=EmergencyState.ACKNOWLEDGED, ack_expires_at__lte=now
        )
        if connection.vendor == "postgresql":
            locked = locked.select_for_update(skip_locked=True)
        emergency = locked.first()
        if emergency is None:
            return 0
        expired_at = emergency.ack_expires_at
        emergency.state = EmergencyState.OPEN
        emergency.ack_expires_at = None
        emergency.next_escalation_at = now
        emergency.save(
            update_fields=["state", "ack_expires_at", "next_escalation_at", "updated_at"]
        )
        event(
            emergency,
            EmergencyEvent.Kind.ACK_EXPIRED,
            at=now,
            data={"expired_at": expired_at.isoformat() if expired_at else None},
        )
        audit.record(
            "refuge.alerts.emergency.ack_expired",
            actor=None,
            obj=emergency,
            detail={"code": emergency.code},
        )
    return 1
