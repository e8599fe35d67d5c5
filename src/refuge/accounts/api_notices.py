"""JSON API of the coordinators' security notices: the list, with where each was sent, and
"mark all as seen". 404 for everyone but coordinators, as on the notices page."""

from __future__ import annotations

import datetime as dt
from uuid import UUID

from django.http import HttpRequest
from ninja import Field, Router, Schema

from refuge.accounts import notices
from refuge.accounts.api import actor, responses
from refuge.accounts.models import Role, SecurityNotice, User
from refuge.core.errors import NotFoundError

router = Router(tags=["notices"])


class DeliveryOut(Schema):
    recipient: str = Field(description="The coordinator's username.")
    channel: str = Field(description="Kind of channel (email, telegram, ...); empty if none.")
    state: str = Field(description="pending, sent, failed or cancelled.")
    sent_at: dt.datetime | None
    next_attempt_at: dt.datetime | None = Field(description="When it is tried again (pending).")
    attempts: int = Field(description="Sends tried so far.")
    no_channel: bool = Field(description="The coordinator has no active notification channel.")


class NoticeOut(Schema):
    id: UUID
    kind: SecurityNotice.Kind
    what: str = Field(description="What happened, in the request's language.")
    created_at: dt.datetime
    account: str | None = Field(description="The account concerned, if any.")
    acknowledged_by: str | None
    acknowledged_at: dt.datetime | None
    deliveries: list[DeliveryOut] = Field(description="Where the notice was sent, and how.")


class SeenOut(Schema):
    count: int = Field(description="How many notices were marked as seen.")


def _coordinator(request: HttpRequest) -> User:
    user = actor(request)
    if user.role != Role.COORDINATOR:
        raise NotFoundError
    return user


def _username(user: User | None) -> str | None:
    return user.get_username() if user is not None else None


@router.get(
    "/notices",
    response=responses(200, list[NoticeOut]),
    summary="Security notices, newest first, with where each was sent (coordinators)",
)
def notice_list(request: HttpRequest) -> list[NoticeOut]:
    user = _coordinator(request)
    listed = list(notices.notice_list(actor=user))
    sent = notices.notice_deliveries(listed)
    return [
        NoticeOut(
            id=notice.pk,
            kind=SecurityNotice.Kind(notice.kind),
            what=notice.get_kind_display(),
            created_at=notice.created_at,
            account=_username(notice.user),
            acknowledged_by=_username(notice.acknowledged_by),
            acknowledged_at=notice.acknowledged_at,
            deliveries=[
                DeliveryOut(
                    recipient=d.recipient,
                    channel=d.channel,
                    state=d.state,
                    sent_at=d.sent_at,
                    next_attempt_at=d.next_attempt_at,
                    attempts=d.attempts,
                    no_channel=d.no_channel,
                )
                for d in sent.get(notice.pk, [])
            ],
        )
        for notice in listed
    ]


@router.post(
    "/notices/seen",
    response=responses(200, SeenOut),
    summary="Mark every open notice as seen; messages not sent yet are cancelled (coordinators)",
)
def notice_seen(request: HttpRequest) -> SeenOut:
    return SeenOut(count=notices.notice_acknowledge_all(actor=_coordinator(request)))
