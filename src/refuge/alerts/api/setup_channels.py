"""JSON endpoints for my own notification channels (GET/POST/PATCH/DELETE /me/channels).

Everyone manages their own channels here; a channel id of someone else is simply not found
(administrators manage other people's channels on the staff pages). A channel's target is
contact data of staff: it is returned to its owner only.
"""

from __future__ import annotations

from uuid import UUID

from django.http import HttpRequest
from ninja import Router, Status

from refuge.accounts.api import Fetch, actor, responses
from refuge.accounts.models import User
from refuge.alerts import selectors
from refuge.alerts.api.setup_schemas import ChannelIn, ChannelOut, ChannelUpdateIn, MoveIn
from refuge.alerts.models import StaffChannel
from refuge.alerts.services import setup as services
from refuge.core.errors import NotFoundError
from refuge.security import access

router = Router(tags=["alerts setup"])


def _my_channel(user: User, channel_id: UUID, action: str) -> StaffChannel:
    del action  # an owner both sees and changes their channels
    channel = selectors.channel_get(actor=user, channel_id=channel_id)
    if channel.user_id != user.pk:
        raise NotFoundError
    return channel


PATH_OBJECTS: dict[str, Fetch] = {"channel_id": _my_channel}


def _channel_out(channel: StaffChannel) -> ChannelOut:
    return ChannelOut(
        id=channel.pk,
        kind=StaffChannel.Kind(channel.kind),
        target=channel.target,
        position=channel.position,
        active=channel.active,
        created_at=channel.created_at,
        updated_at=channel.updated_at,
    )


def _mine(user: User) -> list[ChannelOut]:
    return [_channel_out(c) for c in selectors.channels_of(actor=user, user=user)]


@router.get(
    "/me/channels",
    response=responses(200, list[ChannelOut]),
    summary="My notification channels, in failover order",
)
def my_channel_list(request: HttpRequest) -> list[ChannelOut]:
    return _mine(actor(request))


@router.post(
    "/me/channels", response=responses(201, ChannelOut), summary="Add a channel at the end"
)
def my_channel_add(request: HttpRequest, payload: ChannelIn) -> Status[ChannelOut]:
    user = actor(request)
    channel = services.staff_channel_add(actor=user, user=user, **payload.model_dump())
    return Status(201, _channel_out(channel))


@router.patch(
    "/me/channels/{channel_id}", response=responses(200, ChannelOut), summary="Change a channel"
)
def my_channel_update(
    request: HttpRequest, channel_id: UUID, payload: ChannelUpdateIn
) -> ChannelOut:
    user = actor(request)
    channel = services.staff_channel_update(
        actor=user,
        channel=_my_channel(user, channel_id, access.EDIT),
        **payload.model_dump(exclude_unset=True),
    )
    return _channel_out(channel)


@router.delete(
    "/me/channels/{channel_id}", response=responses(204, None), summary="Remove a channel"
)
def my_channel_remove(request: HttpRequest, channel_id: UUID) -> Status[None]:
    user = actor(request)
    services.staff_channel_remove(actor=user, channel=_my_channel(user, channel_id, access.EDIT))
    return Status(204, None)


@router.post(
    "/me/channels/{channel_id}/move",
    response=responses(200, list[ChannelOut]),
    summary="Move a channel to another place in the failover order",
)
def my_channel_move(request: HttpRequest, channel_id: UUID, payload: MoveIn) -> list[ChannelOut]:
    user = actor(request)
    channel = _my_channel(user, channel_id, access.EDIT)
    services.staff_channel_move(actor=user, channel=channel, position=payload.position)
    return _mine(user)
