"""JSON endpoints of the emergency line's staff side: emergencies (list, log a call, one
emergency, acknowledge, on the way, on site, resolve). An emergency's events, notes, pages and
time corrections are in emergency_records; calls logged without paging in calls; a person's
check-in schedule in api.checkins.

Emergencies are fetched through refuge.alerts.selectors_emergencies (need-to-know via
security.access.scope). Objects the caller may not see answer 404, exactly like objects that do
not exist.
"""

from __future__ import annotations

from functools import partial
from typing import Any
from uuid import UUID

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Query, Router, Status

from refuge.accounts.api import (
    ErrorOut,
    Fetch,
    actor,
    paginate,
    responses,
)
from refuge.accounts.models import User
from refuge.alerts import selectors_calls, selectors_checkins
from refuge.alerts import selectors_emergencies as selectors
from refuge.alerts.api.emergency_schemas import (
    CallIn,
    CallRefOut,
    CaseRefOut,
    EmergencyFilterIn,
    EmergencyListOut,
    EmergencyOut,
    EmergencyPage,
    ResolveIn,
)
from refuge.alerts.models import (
    Emergency,
    EmergencySource,
    EmergencyState,
    Outcome,
)
from refuge.alerts.services import emergencies, response
from refuge.cases.api.schemas import PersonRefOut, TeamRefOut, UserRefOut
from refuge.core.errors import DomainError
from refuge.people.models import ProtectedPerson
from refuge.security import access
from refuge.security.sealing import SealedError

FORBIDDEN = 403
router = Router(tags=["emergency line"])


def _emergency(user: User, emergency_id: UUID, action: str) -> Emergency:
    return selectors.emergency_get(actor=user, emergency_id=emergency_id, action=action)


PATH_OBJECTS: dict[str, Fetch] = {"emergency_id": _emergency}


# --- Schemas --------------------------------------------------------------------------------------


def _user_ref(user: User | None) -> UserRefOut | None:
    return None if user is None else UserRefOut(id=user.pk, username=user.get_username())


def _person_ref(person: ProtectedPerson) -> PersonRefOut:
    return PersonRefOut(id=person.pk, pseudonym=person.pseudonym, is_minor=person.is_minor)


def _list_out(emergency: Emergency) -> EmergencyListOut:
    return EmergencyListOut(
        id=emergency.pk,
        code=emergency.code,
        source=EmergencySource(emergency.source),
        priority=emergency.priority,
        state=EmergencyState(emergency.state),
        people=sorted(p.pseudonym for p in emergency.people.all()),
        reported_at=emergency.reported_at,
        opened_at=emergency.opened_at,
        first_notified_at=emergency.first_notified_at,
        acknowledged_at=emergency.acknowledged_at,
        acknowledged_by=_user_ref(emergency.acknowledged_by),
        en_route_at=emergency.en_route_at,
        on_site_at=emergency.on_site_at,
        resolved_at=emergency.resolved_at,
        outcome=Outcome(emergency.outcome) if emergency.outcome else None,
    )


def _out(user: User, emergency: Emergency) -> EmergencyOut:
    emergency = selectors.emergency_get(actor=user, emergency_id=emergency.pk)
    try:  # alerts keep working while sealed; the encrypted texts wait for the unseal
        text: selectors.EmergencyText | None = selectors.emergency_text(
            actor=user, emergency=emergency
        )
    except SealedError:
        text = None
    people = selectors.emergency_people(emergency=emergency)
    team = emergency.team
    return EmergencyOut(
        **_list_out(emergency).model_dump(),
        caller=_person_ref(emergency.caller) if emergency.caller else None,
        people_refs=[_person_ref(p) for p in people],
        cases=[
            CaseRefOut(id=c.id, code=c.code, visible=c.visible)
            for c in selectors.emergency_cases(actor=user, emergency=emergency)
        ],
        calls=[
            CallRefOut(id=c.id, code=c.code, received_at=c.received_at, visible=c.visible)
            for c in selectors_calls.emergency_calls(actor=user, emergency=emergency)
        ],
        team=TeamRefOut(id=team.pk, name=team.name) if team else None,
        may_resolve=selectors.emergency_may_resolve(actor=user, emergency=emergency),
        sos_presses=selectors_checkins.sos_presses(emergency=emergency),
        sealed=text is None,
        heard=text.heard if text else None,
        location_hint=text.location_hint if text else None,
        resolution_note=text.resolution_note if text else None,
    )


# --- Emergencies ----------------------------------------------------------------------------------


@router.get(
    "/emergencies",
    response=responses(200, EmergencyPage),
    summary="Emergencies you may see, most urgent first (active ones unless ?state=)",
)
def emergency_list(request: HttpRequest, filters: Query[EmergencyFilterIn]) -> EmergencyPage:
    states = [filters.state] if filters.state is not None else None
    items, meta = paginate(
        selectors.emergency_list(actor=actor(request), states=states), filters.page
    )
    return EmergencyPage(items=[_list_out(e) for e in items], **meta)


def _people(user: User, person_ids: list[UUID], field: str) -> list[ProtectedPerson]:
    wanted = list(dict.fromkeys(person_ids))
    found = {p.pk: p for p in selectors.call_people_choices(actor=user).filter(pk__in=wanted)}
    missing = [str(pid) for pid in wanted if pid not in found]
    if missing:
        # The same words for "does not exist" and "not yours to see": existence never leaks.
        raise DomainError(
            _("Please correct the errors below."),
            field_errors={field: [_("Unknown person: %(ids)s.") % {"ids": ", ".join(missing[:5])}]},
        )
    return [found[pid] for pid in wanted]


@router.post(
    "/emergencies",
    response=responses(201, EmergencyOut),
    summary="Log a call: opens an emergency (or joins the open one) and escalates at once",
)
def emergency_call(request: HttpRequest, payload: CallIn) -> Status[EmergencyOut]:
    user = actor(request)
    caller = _people(user, [payload.caller], "caller")[0] if payload.caller else None
    emergency = emergencies.emergency_open_call(
        actor=user,
        caller=caller,
        heard=payload.heard,
        location_hint=payload.location_hint,
        people=_people(user, payload.people, "people"),
        cases=[],
        reported_at=payload.reported_at,
    )
    return Status(201, _out(user, emergency))


@router.get(
    "/emergencies/{emergency_id}",
    response=responses(200, EmergencyOut),
    summary="One emergency, with what was heard (the read is audited)",
)
def emergency_detail(request: HttpRequest, emergency_id: UUID) -> EmergencyOut:
    user = actor(request)
    return _out(user, _emergency(user, emergency_id, access.VIEW))


def _act(request: HttpRequest, emergency_id: UUID, change: Any) -> EmergencyOut:
    user = actor(request)
    emergency = change(actor=user, emergency=_emergency(user, emergency_id, access.EDIT))
    return _out(user, emergency)


@router.post(
    "/emergencies/{emergency_id}/acknowledge",
    response=responses(200, EmergencyOut),
    summary="“I have it”: paging stops until “on my way” is due",
)
def emergency_acknowledge(request: HttpRequest, emergency_id: UUID) -> EmergencyOut:
    return _act(
        request, emergency_id, partial(response.emergency_acknowledge, via=response.VIA_API)
    )


@router.post(
    "/emergencies/{emergency_id}/en-route",
    response=responses(200, EmergencyOut),
    summary="“On my way” (422 when someone is on the way or on site already)",
)
def emergency_en_route(request: HttpRequest, emergency_id: UUID) -> EmergencyOut:
    return _act(request, emergency_id, response.emergency_en_route)


@router.post(
    "/emergencies/{emergency_id}/on-site",
    response=responses(200, EmergencyOut),
    summary="A responder is on site (422 when one is already)",
)
def emergency_on_site(request: HttpRequest, emergency_id: UUID) -> EmergencyOut:
    return _act(request, emergency_id, response.emergency_on_site)


@router.post(
    "/emergencies/{emergency_id}/resolve",
    response=responses(200, EmergencyOut),
    summary=(
        "Resolve with an outcome (403 when you may not resolve it: see may_resolve; "
        "422 when resolved already)"
    ),
)
def emergency_resolve(
    request: HttpRequest, emergency_id: UUID, payload: ResolveIn
) -> EmergencyOut | Status[ErrorOut]:
    user = actor(request)
    try:
        emergency = response.emergency_resolve(
            actor=user,
            emergency=_emergency(user, emergency_id, access.EDIT),
            outcome=payload.outcome,
            note=payload.note,
        )
    except response.ResolveRefusedError as refused:
        return Status(FORBIDDEN, ErrorOut(detail=refused.message))
    return _out(user, emergency)
