"""JSON endpoints of the calls logged without paging: list, log one, read one (what was heard;
the read is audited), and turn one into an emergency.

Logged calls are fetched through refuge.alerts.selectors_calls (need-to-know via
security.access.scope: the line sees every logged call, anyone else who may log one sees their
own); a call the caller may not see answers 404, like one that does not exist. Roles that see no
emergency cannot log calls (422, with the reason).
"""

from __future__ import annotations

import datetime as dt
from uuid import UUID

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status
from pydantic import AwareDatetime

from refuge.accounts.api import NO_NUL, Fetch, InputSchema, PageIn, PageOut, actor, paginate
from refuge.accounts.api import responses as documented
from refuge.accounts.models import User
from refuge.alerts import display
from refuge.alerts import selectors_calls as selectors
from refuge.alerts.api.emergencies import _out, _people, _person_ref
from refuge.alerts.api.emergency_schemas import MAX_PEOPLE, MAX_TEXT, EmergencyOut
from refuge.alerts.models import CallRecord
from refuge.alerts.services import calls
from refuge.cases.api.schemas import PersonRefOut, UserRefOut
from refuge.security import access
from refuge.security.sealing import SealedError

router = Router(tags=["emergency line"])


def _call(user: User, call_id: UUID, action: str) -> CallRecord:
    return selectors.call_get(actor=user, call_id=call_id, action=action)


PATH_OBJECTS: dict[str, Fetch] = {"call_id": _call}


class EmergencyRefOut(Schema):
    id: UUID
    code: str


class CallListOut(Schema):
    id: UUID
    code: str
    received_at: dt.datetime
    logged_at: dt.datetime
    logged_by: UserRefOut
    logged_by_name: str
    caller: PersonRefOut | None = Field(description="Null: an unknown caller.")
    people: list[PersonRefOut]
    emergency: EmergencyRefOut | None = Field(
        description="The emergency it was turned into; null: nobody was paged."
    )
    escalated_at: dt.datetime | None


class CallOut(CallListOut):
    sealed: bool = Field(description="Refuge is sealed: the two texts are null until then.")
    heard: str | None = Field(description="Decrypted; the read is audited. Null while sealed.")
    location_hint: str | None


class CallPage(PageOut):
    items: list[CallListOut]


class CallFilterIn(PageIn):
    escalated: bool | None = Field(
        None, description="true: only calls turned into an emergency; false: only the others."
    )


class CallRecordIn(InputSchema):
    caller: UUID | None = Field(None, description="The calling person; null: unknown caller.")
    heard: str = Field(max_length=MAX_TEXT, pattern=NO_NUL, description="Required.")
    location_hint: str = Field("", max_length=MAX_TEXT, pattern=NO_NUL)
    people: list[UUID] = Field(default_factory=list, max_length=MAX_PEOPLE)
    received_at: AwareDatetime | None = Field(
        None,
        description=(
            "When the call came in; null: now. Not in the future, at most 7 days ago "
            "(422 otherwise)."
        ),
    )


def _list_out(call: CallRecord) -> CallListOut:
    return CallListOut(
        id=call.pk,
        code=call.code,
        received_at=call.received_at,
        logged_at=call.logged_at,
        logged_by=UserRefOut(id=call.logged_by.pk, username=call.logged_by.get_username()),
        logged_by_name=display.staff_name(call.logged_by),
        caller=_person_ref(call.caller) if call.caller else None,
        people=[_person_ref(p) for p in sorted(call.people.all(), key=lambda p: p.pseudonym)],
        emergency=(
            EmergencyRefOut(id=call.emergency.pk, code=call.emergency.code)
            if call.emergency
            else None
        ),
        escalated_at=call.escalated_at,
    )


def _call_out(user: User, call: CallRecord) -> CallOut:
    call = selectors.call_get(actor=user, call_id=call.pk)
    try:  # a call can be logged while sealed; its text waits for the unseal
        text: selectors.CallText | None = selectors.call_text(actor=user, call=call)
    except SealedError:
        text = None
    return CallOut(
        **_list_out(call).model_dump(),
        sealed=text is None,
        heard=text.heard if text else None,
        location_hint=text.location_hint if text else None,
    )


@router.get(
    "/calls",
    response=documented(200, CallPage),
    summary="Calls logged without paging, the latest first",
)
def call_list(request: HttpRequest, filters: Query[CallFilterIn]) -> CallPage:
    items, meta = paginate(
        selectors.call_list(actor=actor(request), escalated=filters.escalated), filters.page
    )
    return CallPage(items=[_list_out(c) for c in items], **meta)


@router.post(
    "/calls",
    response=documented(201, CallOut),
    summary="Log a call without paging anyone (a silent or probing call, an unknown caller)",
)
def call_log(request: HttpRequest, payload: CallRecordIn) -> Status[CallOut]:
    user = actor(request)
    caller = _people(user, [payload.caller], "caller")[0] if payload.caller else None
    call = calls.call_log(
        actor=user,
        caller=caller,
        heard=payload.heard,
        location_hint=payload.location_hint,
        people=_people(user, payload.people, "people"),
        received_at=payload.received_at,
    )
    return Status(201, _call_out(user, call))


@router.get(
    "/calls/{call_id}",
    response=documented(200, CallOut),
    summary="One logged call, with what was heard (the read is audited)",
)
def call_detail(request: HttpRequest, call_id: UUID) -> CallOut:
    user = actor(request)
    return _call_out(user, _call(user, call_id, access.VIEW))


@router.post(
    "/calls/{call_id}/escalate",
    response=documented(201, EmergencyOut),
    summary=(
        "Turn a logged call into an emergency: pages at once (or joins the open one) with the "
        "call's time and text (422 when turned already)"
    ),
)
def call_escalate(request: HttpRequest, call_id: UUID) -> Status[EmergencyOut]:
    user = actor(request)
    emergency = calls.call_escalate(actor=user, call=_call(user, call_id, access.EDIT))
    return Status(201, _out(user, emergency))
