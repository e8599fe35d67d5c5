"""JSON API of sealing: the state for any staff member; unseal and seal now for coordinators
after a passkey step-up (API tokens cannot step up, so they may not do either)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema

from refuge.accounts import stepup
from refuge.accounts.api import ErrorOut, InputSchema, actor, responses
from refuge.core.errors import DomainError, NotFoundError
from refuge.security import services_seal
from refuge.security import shares as share_format
from refuge.security.keyd.client import KeydStatus
from refuge.security.sealing import NotInitialisedError

router = Router(tags=["sealing"])
MAX_SHARE_CHARS = 2000


class SealStatusOut(Schema):
    mode: str = Field(description="sealed (keys only in keyd) or keyfile (development).")
    sealed: bool = Field(description="True when encrypted data cannot be read now.")
    reachable: bool = Field(description="Whether keyd answered; unreachable counts as sealed.")
    initialised: bool = Field(description="Whether `refuge seal init` has been run.")
    t: int = Field(description="Shares needed to unseal (the threshold).")
    n: int = Field(description="Shares issued.")
    progress: int = Field(description="Shares entered towards the current unseal.")
    instance_id: str


class UnsealIn(InputSchema):
    share: str = Field(max_length=MAX_SHARE_CHARS, pattern=r"^[^\x00]*$")
    passphrase: str = Field("", max_length=1000, pattern=r"^[^\x00]*$")


def _out(status: KeydStatus) -> SealStatusOut:
    return SealStatusOut(
        mode="sealed",
        sealed=status.sealed,
        reachable=status.reachable,
        initialised=status.initialised,
        t=status.threshold,
        n=status.shares,
        progress=status.progress,
        instance_id=status.instance_id,
    )


def _sealed_responses() -> dict[int, object]:
    return {**responses(200, SealStatusOut), 503: ErrorOut}


@router.get("/seal", response=_sealed_responses(), summary="Whether Refuge is sealed")
def seal_get(request: HttpRequest) -> SealStatusOut:
    actor(request)
    if settings.KEY_MODE != "sealed":
        return SealStatusOut(
            mode="keyfile",
            sealed=False,
            reachable=True,
            initialised=False,
            t=0,
            n=0,
            progress=0,
            instance_id="",
        )
    return _out(services_seal.seal_status())


def _coordinator(request: HttpRequest) -> str:
    user = actor(request)
    if not user.is_coordinator or settings.KEY_MODE != "sealed":
        raise NotFoundError
    stepup.api_require_step_up(request, passkey=True)
    return user.get_username()


@router.post(
    "/seal/unseal",
    response=_sealed_responses(),
    summary="Enter one unseal share (coordinators, after a passkey step-up)",
)
def seal_unseal(request: HttpRequest, payload: UnsealIn) -> SealStatusOut:
    holder = _coordinator(request)
    try:
        status = services_seal.seal_unseal(
            actor=actor(request),
            share_text=payload.share,
            passphrase=payload.passphrase or None,
            holder=holder,
        )
    except (share_format.ShareError, NotInitialisedError) as exc:
        raise DomainError(_("Share refused: %(why)s") % {"why": exc}) from None
    return _out(status)


@router.post(
    "/seal/seal",
    response=_sealed_responses(),
    summary="Seal now: every process loses the keys at once (coordinators, passkey step-up)",
)
def seal_now(request: HttpRequest) -> SealStatusOut:
    holder = _coordinator(request)
    return _out(services_seal.seal_now(actor=actor(request), holder=holder))
