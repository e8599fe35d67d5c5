"""JSON endpoints for the setup of who gets paged: escalation policies and their steps, on-call
rotas with their members and overrides, and who is on call.

Coordinators only: for everyone else every object here answers 404, exactly like an object that
does not exist. Reads go through refuge.alerts.selectors, writes through
refuge.alerts.services.setup, whose refusals are 422 with messages per field.
"""

from __future__ import annotations

from uuid import UUID

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Query, Router, Status

from refuge.accounts.api import Fetch, actor, responses
from refuge.accounts.models import User
from refuge.alerts import selectors
from refuge.alerts.api.setup_schemas import (
    MoveIn,
    OnCallIn,
    OnCallOut,
    OverrideIn,
    OverrideOut,
    PolicyCreateIn,
    PolicyOut,
    PolicyUpdateIn,
    RotaCreateIn,
    RotaDetailOut,
    RotaMemberIn,
    RotaMemberOut,
    RotaOut,
    RotaRefOut,
    RotaUpdateIn,
    ShiftChangeOut,
    StepIn,
    StepOut,
    StepUpdateIn,
)
from refuge.alerts.models import (
    EscalationPolicy,
    EscalationStep,
    OnCallRota,
    RotaMember,
    RotaOverride,
)
from refuge.alerts.services import setup as services
from refuge.cases.api.schemas import UserRefOut
from refuge.core import clock
from refuge.core.errors import DomainError
from refuge.security import access

router = Router(tags=["alerts setup"])


def _policy(user: User, policy_id: UUID, action: str) -> EscalationPolicy:
    del action  # coordinators both read and change the setup; nobody else does either
    return selectors.policy_get(actor=user, policy_id=policy_id)


def _step(user: User, step_id: UUID, action: str) -> EscalationStep:
    del action
    return selectors.step_get(actor=user, step_id=step_id)


def _rota(user: User, rota_id: UUID, action: str) -> OnCallRota:
    del action
    return selectors.rota_get(actor=user, rota_id=rota_id)


def _member(user: User, member_id: UUID, action: str) -> RotaMember:
    del action
    return selectors.rota_member_get(actor=user, member_id=member_id)


def _override(user: User, override_id: UUID, action: str) -> RotaOverride:
    del action
    return selectors.rota_override_get(actor=user, override_id=override_id)


PATH_OBJECTS: dict[str, Fetch] = {
    "policy_id": _policy,
    "step_id": _step,
    "rota_id": _rota,
    "member_id": _member,
    "override_id": _override,
}


def _refused(field: str, message: str) -> DomainError:
    return DomainError(_("Please correct the errors below."), field_errors={field: [message]})


def _staff(user: User, user_id: UUID | None, field: str = "user") -> User | None:
    if user_id is None:
        return None
    found = selectors.staff_member(actor=user, user_id=user_id)
    if found is None:
        raise _refused(field, _("Unknown staff member."))
    return found


def _rota_choice(user: User, rota_id: UUID | None) -> OnCallRota | None:
    if rota_id is None:
        return None
    rota = selectors.rota_choices(actor=user).filter(pk=rota_id).first()
    if rota is None:
        raise _refused("rota", _("Unknown rota."))
    return rota


def _user_ref(user: User | None) -> UserRefOut | None:
    return None if user is None else UserRefOut(id=user.pk, username=user.get_username())


def _step_out(step: EscalationStep, fires_after: int) -> StepOut:
    return StepOut(
        id=step.pk,
        position=step.position,
        target=EscalationStep.Target(step.target),
        delay_minutes=step.delay_minutes,
        fires_after_minutes=fires_after,
        rota=RotaRefOut(id=step.rota.pk, name=step.rota.name) if step.rota else None,
        user=_user_ref(step.user),
        channel_kinds=list(step.channel_kinds),
    )


def _policy_out(policy: EscalationPolicy) -> PolicyOut:
    return PolicyOut(
        id=policy.pk,
        name=policy.name,
        is_default=policy.is_default,
        repeat=policy.repeat,
        en_route_within_minutes=policy.en_route_within_minutes,
        steps=[_step_out(s, m) for s, m in selectors.fires_after(list(policy.steps.all()))],
        created_at=policy.created_at,
        updated_at=policy.updated_at,
    )


def _fresh_policy(user: User, policy_id: UUID) -> PolicyOut:
    return _policy_out(selectors.policy_get(actor=user, policy_id=policy_id))


# --- Policies -------------------------------------------------------------------------------------


@router.get("/policies", response=responses(200, list[PolicyOut]), summary="Escalation policies")
def policy_list(request: HttpRequest) -> list[PolicyOut]:
    return [_policy_out(p) for p in selectors.policy_list(actor=actor(request))]


@router.post("/policies", response=responses(201, PolicyOut), summary="Create a policy")
def policy_create(request: HttpRequest, payload: PolicyCreateIn) -> Status[PolicyOut]:
    user = actor(request)
    policy = services.policy_create(actor=user, **payload.model_dump())
    return Status(201, _fresh_policy(user, policy.pk))


@router.get("/policies/{policy_id}", response=responses(200, PolicyOut), summary="One policy")
def policy_detail(request: HttpRequest, policy_id: UUID) -> PolicyOut:
    user = actor(request)
    return _policy_out(_policy(user, policy_id, access.VIEW))


@router.patch("/policies/{policy_id}", response=responses(200, PolicyOut), summary="Change")
def policy_update(request: HttpRequest, policy_id: UUID, payload: PolicyUpdateIn) -> PolicyOut:
    user = actor(request)
    policy = _policy(user, policy_id, access.EDIT)
    services.policy_update(actor=user, policy=policy, **payload.model_dump(exclude_unset=True))
    return _fresh_policy(user, policy.pk)


@router.delete(
    "/policies/{policy_id}",
    response=responses(204, None),
    summary="Delete a policy (open emergencies keep their copy)",
)
def policy_delete(request: HttpRequest, policy_id: UUID) -> Status[None]:
    user = actor(request)
    services.policy_delete(actor=user, policy=_policy(user, policy_id, access.EDIT))
    return Status(204, None)


# --- Steps ----------------------------------------------------------------------------------------


@router.post(
    "/policies/{policy_id}/steps", response=responses(201, StepOut), summary="Add a last step"
)
def step_add(request: HttpRequest, policy_id: UUID, payload: StepIn) -> Status[StepOut]:
    user = actor(request)
    policy = _policy(user, policy_id, access.EDIT)
    step = services.step_add(
        actor=user,
        policy=policy,
        target=payload.target,
        delay_minutes=payload.delay_minutes,
        user=_staff(user, payload.user),
        rota=_rota_choice(user, payload.rota),
        channel_kinds=[str(k) for k in payload.channel_kinds],
    )
    return Status(201, _step_out(step, selectors.step_fires_after(actor=user, step=step)))


@router.patch(
    "/escalation-steps/{step_id}", response=responses(200, StepOut), summary="Change a step"
)
def step_update(request: HttpRequest, step_id: UUID, payload: StepUpdateIn) -> StepOut:
    user = actor(request)
    step = _step(user, step_id, access.EDIT)
    sent = payload.model_fields_set
    kinds = payload.channel_kinds if payload.channel_kinds is not None else step.channel_kinds
    step = services.step_update(
        actor=user,
        step=step,
        target=payload.target or step.target,
        delay_minutes=(
            payload.delay_minutes if payload.delay_minutes is not None else step.delay_minutes
        ),
        user=_staff(user, payload.user) if "user" in sent else step.user,
        rota=_rota_choice(user, payload.rota) if "rota" in sent else step.rota,
        channel_kinds=[str(k) for k in kinds],
    )
    return _step_out(step, selectors.step_fires_after(actor=user, step=step))


@router.delete(
    "/escalation-steps/{step_id}", response=responses(204, None), summary="Remove a step"
)
def step_remove(request: HttpRequest, step_id: UUID) -> Status[None]:
    user = actor(request)
    services.step_remove(actor=user, step=_step(user, step_id, access.EDIT))
    return Status(204, None)


@router.post(
    "/escalation-steps/{step_id}/move",
    response=responses(200, PolicyOut),
    summary="Move a step to another position (the others close up)",
)
def step_move(request: HttpRequest, step_id: UUID, payload: MoveIn) -> PolicyOut:
    user = actor(request)
    step = services.step_move(
        actor=user, step=_step(user, step_id, access.EDIT), position=payload.position
    )
    return _fresh_policy(user, step.policy_id)


# --- Rotas ----------------------------------------------------------------------------------------


def _member_out(member: RotaMember) -> RotaMemberOut:
    return RotaMemberOut(
        id=member.pk,
        position=member.position,
        user=UserRefOut(id=member.user.pk, username=member.user.get_username()),
        active=member.user.is_active,
    )


def _override_out(override: RotaOverride) -> OverrideOut:
    return OverrideOut(
        id=override.pk,
        rota=override.rota_id,
        user=UserRefOut(id=override.user.pk, username=override.user.get_username()),
        starts_at=override.starts_at,
        ends_at=override.ends_at,
    )


def _rota_out(summary: selectors.RotaSummary) -> RotaOut:
    rota = summary.rota
    return RotaOut(
        id=rota.pk,
        name=rota.name,
        starts_on=rota.starts_on,
        shift_days=rota.shift_days,
        members=[_member_out(m) for m in rota.members.all()],
        on_call_now=_user_ref(summary.on_call_now),
    )


def _rota_detail(user: User, rota_id: UUID) -> RotaDetailOut:
    rota = selectors.rota_get(actor=user, rota_id=rota_id)
    summary = selectors.RotaSummary(rota, selectors.rota_on_call(actor=user, rota=rota))
    overrides = [_override_out(o) for o in selectors.rota_overrides(actor=user, rota=rota)]
    return RotaDetailOut(**_rota_out(summary).model_dump(), overrides=overrides)


@router.get("/rotas", response=responses(200, list[RotaOut]), summary="On-call rotas")
def rota_list(request: HttpRequest) -> list[RotaOut]:
    return [_rota_out(s) for s in selectors.rota_list(actor=actor(request))]


@router.post("/rotas", response=responses(201, RotaDetailOut), summary="Create a rota")
def rota_create(request: HttpRequest, payload: RotaCreateIn) -> Status[RotaDetailOut]:
    user = actor(request)
    rota = services.rota_create(actor=user, **payload.model_dump())
    return Status(201, _rota_detail(user, rota.pk))


@router.get("/rotas/{rota_id}", response=responses(200, RotaDetailOut), summary="One rota")
def rota_detail(request: HttpRequest, rota_id: UUID) -> RotaDetailOut:
    user = actor(request)
    return _rota_detail(user, _rota(user, rota_id, access.VIEW).pk)


@router.patch("/rotas/{rota_id}", response=responses(200, RotaDetailOut), summary="Change")
def rota_update(request: HttpRequest, rota_id: UUID, payload: RotaUpdateIn) -> RotaDetailOut:
    user = actor(request)
    rota = _rota(user, rota_id, access.EDIT)
    services.rota_update(actor=user, rota=rota, **payload.model_dump(exclude_unset=True))
    return _rota_detail(user, rota.pk)


@router.delete(
    "/rotas/{rota_id}",
    response=responses(204, None),
    summary="Delete a rota no policy pages",
)
def rota_delete(request: HttpRequest, rota_id: UUID) -> Status[None]:
    user = actor(request)
    services.rota_delete(actor=user, rota=_rota(user, rota_id, access.EDIT))
    return Status(204, None)


@router.get(
    "/rotas/{rota_id}/on-call",
    response=responses(200, OnCallOut),
    summary="Who is on call (now or at a given time) and the next handovers",
)
def rota_on_call(request: HttpRequest, rota_id: UUID, query: Query[OnCallIn]) -> OnCallOut:
    user = actor(request)
    rota = _rota(user, rota_id, access.VIEW)
    at = query.at or clock.now()
    changes = selectors.rota_next_changes(actor=user, rota=rota, after=at)
    return OnCallOut(
        rota=RotaRefOut(id=rota.pk, name=rota.name),
        at=at,
        user=_user_ref(selectors.rota_on_call(actor=user, rota=rota, at=at)),
        next_changes=[ShiftChangeOut(at=c.at, user=_user_ref(c.user)) for c in changes],
    )


@router.post(
    "/rotas/{rota_id}/members",
    response=responses(201, RotaMemberOut),
    summary="Add a member at the end of the rotation",
)
def rota_member_add(
    request: HttpRequest, rota_id: UUID, payload: RotaMemberIn
) -> Status[RotaMemberOut]:
    user = actor(request)
    rota = _rota(user, rota_id, access.EDIT)
    member = services.rota_member_add(actor=user, rota=rota, user=_staff(user, payload.user))
    return Status(201, _member_out(member))


@router.delete(
    "/rota-members/{member_id}", response=responses(204, None), summary="Remove a member"
)
def rota_member_remove(request: HttpRequest, member_id: UUID) -> Status[None]:
    user = actor(request)
    services.rota_member_remove(actor=user, member=_member(user, member_id, access.EDIT))
    return Status(204, None)


@router.post(
    "/rota-members/{member_id}/move",
    response=responses(200, RotaDetailOut),
    summary="Move a member to another place in the rotation",
)
def rota_member_move(request: HttpRequest, member_id: UUID, payload: MoveIn) -> RotaDetailOut:
    user = actor(request)
    member = _member(user, member_id, access.EDIT)
    services.rota_member_move(actor=user, member=member, position=payload.position)
    return _rota_detail(user, member.rota_id)


@router.post(
    "/rotas/{rota_id}/overrides",
    response=responses(201, OverrideOut),
    summary="Put someone on call for a while, instead of the rotation",
)
def rota_override_add(
    request: HttpRequest, rota_id: UUID, payload: OverrideIn
) -> Status[OverrideOut]:
    user = actor(request)
    override = services.rota_override_add(
        actor=user,
        rota=_rota(user, rota_id, access.EDIT),
        user=_staff(user, payload.user),
        starts_at=payload.starts_at,
        ends_at=payload.ends_at,
    )
    return Status(201, _override_out(override))


@router.delete(
    "/rota-overrides/{override_id}", response=responses(204, None), summary="Remove an override"
)
def rota_override_remove(request: HttpRequest, override_id: UUID) -> Status[None]:
    user = actor(request)
    services.rota_override_remove(actor=user, override=_override(user, override_id, access.EDIT))
    return Status(204, None)
