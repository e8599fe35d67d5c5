"""The setup pages of the emergency line: escalation policies, on-call rotas, notification channels.

Thin: parse a form, call one service or selector, render. Coordinators manage policies and rotas;
everyone manages their own channels, administrators anyone's (coordinators may look). Without
access a page is a 404 (the selectors raise NotFoundError). Every change is a POST; a refused one
re-renders its page with the reasons next to the fields and status 400.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from refuge.accounts.models import User
from refuge.alerts import selectors
from refuge.alerts.forms_setup import (
    ChannelEditForm,
    ChannelForm,
    MoveForm,
    OverrideForm,
    PolicyForm,
    RotaForm,
    StaffChoiceForm,
    StepForm,
)
from refuge.alerts.models import EscalationPolicy, OnCallRota, StaffChannel
from refuge.alerts.services import setup as services
from refuge.core import clock
from refuge.core.errors import DomainError
from refuge.core.web import apply_domain_error

BAD = 400
T = TypeVar("T")


def _actor(request: HttpRequest) -> User:
    if not isinstance(request.user, User):  # login_required has sent anonymous visitors away
        raise Http404
    return request.user


def _manager(request: HttpRequest) -> User:
    actor = _actor(request)
    if not selectors.can_manage_setup(actor):
        raise Http404
    return actor


def _save(form: forms.Form, call: Callable[..., T]) -> T | None:
    """`call(**cleaned_data)` for a valid form; None when the form or the service refused (the
    reasons are then on the form)."""
    if not form.is_valid():
        return None
    try:
        return call(**form.cleaned_data)
    except DomainError as error:
        apply_domain_error(form, error)
        return None


def _labels(kinds: list[str]) -> list[str]:
    names = dict(StaffChannel.Kind.choices)
    return [str(names[kind]) for kind in kinds if kind in names]


def _initial(obj: object, form: type[forms.Form]) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in form.base_fields}


def _attempt(request: HttpRequest, action: Callable[[], object], done: str) -> bool:
    """A change without a form of its own (remove, move, delete): the outcome is a message."""
    try:
        action()
    except DomainError as error:
        reasons = [message for field in error.field_errors.values() for message in field]
        messages.error(request, " ".join(reasons) or error.message)
        return False
    messages.success(request, done)
    return True


def _then(request: HttpRequest, action: Callable[[], object], done: str, to: str) -> HttpResponse:
    _attempt(request, action, done)
    return redirect(to)


def _move(request: HttpRequest, action: Callable[..., object], to: str) -> HttpResponse:
    form = MoveForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a position from the list."))
        return redirect(to)
    return _then(request, partial(action, **form.cleaned_data), _("Order saved."), to)


# --- Escalation policies ----------------------------------------------------------------------


def _policy_list_page(
    request: HttpRequest, actor: User, form: PolicyForm | None = None, status: int = 200
) -> HttpResponse:
    context = {
        "policies": selectors.policy_list(actor=actor),
        "form": form or PolicyForm(initial={"is_default": False}),
    }
    return render(request, "alerts/setup_policy_list.html", context, status=status)


@login_required
@require_GET
def policy_list(request: HttpRequest) -> HttpResponse:
    return _policy_list_page(request, _manager(request))


@login_required
@require_POST
def policy_create(request: HttpRequest) -> HttpResponse:
    actor = _manager(request)
    form = PolicyForm(request.POST)
    policy = _save(form, partial(services.policy_create, actor=actor))
    if policy is None:
        return _policy_list_page(request, actor, form, status=BAD)
    messages.success(request, _("Policy %(name)s created.") % {"name": policy.name})
    return redirect("alerts:policy_detail", policy_id=policy.pk)


def _step_form(actor: User, data: Any = None, **kwargs: Any) -> StepForm:
    rotas = selectors.rota_choices(actor=actor)
    staff = selectors.pageable_staff(actor=actor)
    return StepForm(data, rotas=rotas, staff=staff, **kwargs)


def _policy_page(
    request: HttpRequest,
    actor: User,
    policy: EscalationPolicy,
    *,
    policy_form: PolicyForm | None = None,
    step_form: StepForm | None = None,
    status: int = 200,
) -> HttpResponse:
    initial = _initial(policy, PolicyForm)
    steps = list(policy.steps.all())
    context = {
        "policy": policy,
        "steps": [(s, m, _labels(s.channel_kinds)) for s, m in selectors.fires_after(steps)],
        "policy_form": policy_form or PolicyForm(initial=initial),
        "step_form": step_form or _step_form(actor),
    }
    return render(request, "alerts/setup_policy_detail.html", context, status=status)


@login_required
@require_GET
def policy_detail(request: HttpRequest, policy_id: Any) -> HttpResponse:
    actor = _manager(request)
    return _policy_page(request, actor, selectors.policy_get(actor=actor, policy_id=policy_id))


@login_required
@require_POST
def policy_update(request: HttpRequest, policy_id: Any) -> HttpResponse:
    actor = _manager(request)
    policy = selectors.policy_get(actor=actor, policy_id=policy_id)
    form = PolicyForm(request.POST)
    if _save(form, partial(services.policy_update, actor=actor, policy=policy)) is None:
        policy.refresh_from_db()
        return _policy_page(request, actor, policy, policy_form=form, status=BAD)
    messages.success(request, _("Policy saved."))
    return redirect("alerts:policy_detail", policy_id=policy.pk)


@login_required
@require_POST
def policy_delete(request: HttpRequest, policy_id: Any) -> HttpResponse:
    actor = _manager(request)
    policy = selectors.policy_get(actor=actor, policy_id=policy_id)
    done = _("Policy %(name)s deleted.") % {"name": policy.name}
    delete = partial(services.policy_delete, actor=actor, policy=policy)
    if _attempt(request, delete, done):
        return redirect("alerts:policy_list")
    return redirect("alerts:policy_detail", policy_id=policy.pk)


@login_required
@require_POST
def step_add(request: HttpRequest, policy_id: Any) -> HttpResponse:
    actor = _manager(request)
    policy = selectors.policy_get(actor=actor, policy_id=policy_id)
    form = _step_form(actor, request.POST)
    if _save(form, partial(services.step_add, actor=actor, policy=policy)) is None:
        return _policy_page(request, actor, policy, step_form=form, status=BAD)
    messages.success(request, _("Step added."))
    return redirect(reverse("alerts:policy_detail", args=[policy.pk]) + "#steps")


@login_required
@require_http_methods(["GET", "POST"])
def step_edit(request: HttpRequest, step_id: Any) -> HttpResponse:
    actor = _manager(request)
    step = selectors.step_get(actor=actor, step_id=step_id)
    form = _step_form(actor, request.POST or None, initial=_initial(step, StepForm))
    update = partial(services.step_update, actor=actor, step=step)
    if request.method == "POST" and _save(form, update) is not None:
        messages.success(request, _("Step saved."))
        return redirect(reverse("alerts:policy_detail", args=[step.policy_id]) + "#steps")
    status = BAD if request.method == "POST" else 200
    context = {"step": step, "policy": step.policy, "form": form}
    return render(request, "alerts/setup_step_edit.html", context, status=status)


@login_required
@require_POST
def step_remove(request: HttpRequest, step_id: Any) -> HttpResponse:
    actor = _manager(request)
    step = selectors.step_get(actor=actor, step_id=step_id)
    to = reverse("alerts:policy_detail", args=[step.policy_id]) + "#steps"
    action = partial(services.step_remove, actor=actor, step=step)
    return _then(request, action, _("Step removed."), to)


@login_required
@require_POST
def step_move(request: HttpRequest, step_id: Any) -> HttpResponse:
    actor = _manager(request)
    step = selectors.step_get(actor=actor, step_id=step_id)
    to = reverse("alerts:policy_detail", args=[step.policy_id]) + "#steps"
    return _move(request, partial(services.step_move, actor=actor, step=step), to)


# --- On-call rotas --------------------------------------------------------------------------------


def _rota_list_page(
    request: HttpRequest, actor: User, form: RotaForm | None = None, status: int = 200
) -> HttpResponse:
    context = {
        "rotas": selectors.rota_list(actor=actor),
        "form": form or RotaForm(initial={"shift_days": 7}),
    }
    return render(request, "alerts/setup_rota_list.html", context, status=status)


@login_required
@require_GET
def rota_list(request: HttpRequest) -> HttpResponse:
    return _rota_list_page(request, _manager(request))


@login_required
@require_POST
def rota_create(request: HttpRequest) -> HttpResponse:
    actor = _manager(request)
    form = RotaForm(request.POST)
    rota = _save(form, partial(services.rota_create, actor=actor))
    if rota is None:
        return _rota_list_page(request, actor, form, status=BAD)
    messages.success(request, _("Rota %(name)s created.") % {"name": rota.name})
    return redirect("alerts:rota_detail", rota_id=rota.pk)


def _rota_page(
    request: HttpRequest, actor: User, rota: OnCallRota, status: int = 200, **forms: Any
) -> HttpResponse:
    members = list(selectors.rota_members(actor=actor, rota=rota))
    kinds = selectors.channel_kinds_of(actor=actor, users=[m.user for m in members])
    initial = _initial(rota, RotaForm)
    now = clock.now()
    context = {
        "rota": rota,
        "now": now,
        "on_call_now": selectors.rota_on_call(actor=actor, rota=rota, at=now),
        "next_changes": selectors.rota_next_changes(actor=actor, rota=rota, after=now),
        "members": [(m, _labels(kinds.get(m.user_id, []))) for m in members],
        "overrides": selectors.rota_overrides(actor=actor, rota=rota),
        "rota_form": forms.get("rota_form") or RotaForm(initial=initial),
        "member_form": forms.get("member_form")
        or StaffChoiceForm(staff=selectors.rota_member_candidates(actor=actor, rota=rota)),
        "override_form": forms.get("override_form")
        or OverrideForm(staff=selectors.pageable_staff(actor=actor)),
    }
    return render(request, "alerts/setup_rota_detail.html", context, status=status)


@login_required
@require_GET
def rota_detail(request: HttpRequest, rota_id: Any) -> HttpResponse:
    actor = _manager(request)
    return _rota_page(request, actor, selectors.rota_get(actor=actor, rota_id=rota_id))


@login_required
@require_POST
def rota_update(request: HttpRequest, rota_id: Any) -> HttpResponse:
    actor = _manager(request)
    rota = selectors.rota_get(actor=actor, rota_id=rota_id)
    form = RotaForm(request.POST)
    if _save(form, partial(services.rota_update, actor=actor, rota=rota)) is None:
        rota.refresh_from_db()
        return _rota_page(request, actor, rota, BAD, rota_form=form)
    messages.success(request, _("Rota saved."))
    return redirect("alerts:rota_detail", rota_id=rota.pk)


@login_required
@require_POST
def rota_delete(request: HttpRequest, rota_id: Any) -> HttpResponse:
    actor = _manager(request)
    rota = selectors.rota_get(actor=actor, rota_id=rota_id)
    done = _("Rota %(name)s deleted.") % {"name": rota.name}
    if _attempt(request, partial(services.rota_delete, actor=actor, rota=rota), done):
        return redirect("alerts:rota_list")
    return redirect("alerts:rota_detail", rota_id=rota.pk)


@login_required
@require_POST
def rota_member_add(request: HttpRequest, rota_id: Any) -> HttpResponse:
    actor = _manager(request)
    rota = selectors.rota_get(actor=actor, rota_id=rota_id)
    staff = selectors.rota_member_candidates(actor=actor, rota=rota)
    form = StaffChoiceForm(request.POST, staff=staff)
    if _save(form, partial(services.rota_member_add, actor=actor, rota=rota)) is None:
        return _rota_page(request, actor, rota, BAD, member_form=form)
    messages.success(request, _("Member added to the rota."))
    return redirect(reverse("alerts:rota_detail", args=[rota.pk]) + "#members")


@login_required
@require_POST
def rota_member_remove(request: HttpRequest, member_id: Any) -> HttpResponse:
    actor = _manager(request)
    member = selectors.rota_member_get(actor=actor, member_id=member_id)
    to = reverse("alerts:rota_detail", args=[member.rota_id]) + "#members"
    action = partial(services.rota_member_remove, actor=actor, member=member)
    return _then(request, action, _("Member removed from the rota."), to)


@login_required
@require_POST
def rota_member_move(request: HttpRequest, member_id: Any) -> HttpResponse:
    actor = _manager(request)
    member = selectors.rota_member_get(actor=actor, member_id=member_id)
    to = reverse("alerts:rota_detail", args=[member.rota_id]) + "#members"
    return _move(request, partial(services.rota_member_move, actor=actor, member=member), to)


@login_required
@require_POST
def rota_override_add(request: HttpRequest, rota_id: Any) -> HttpResponse:
    actor = _manager(request)
    rota = selectors.rota_get(actor=actor, rota_id=rota_id)
    form = OverrideForm(request.POST, staff=selectors.pageable_staff(actor=actor))
    if _save(form, partial(services.rota_override_add, actor=actor, rota=rota)) is None:
        return _rota_page(request, actor, rota, BAD, override_form=form)
    messages.success(request, _("Override added."))
    return redirect(reverse("alerts:rota_detail", args=[rota.pk]) + "#overrides")


@login_required
@require_POST
def rota_override_remove(request: HttpRequest, override_id: Any) -> HttpResponse:
    actor = _manager(request)
    override = selectors.rota_override_get(actor=actor, override_id=override_id)
    to = reverse("alerts:rota_detail", args=[override.rota_id]) + "#overrides"
    action = partial(services.rota_override_remove, actor=actor, override=override)
    return _then(request, action, _("Override removed."), to)


# --- Notification channels ------------------------------------------------------------------------


def _channels_url(actor: User, owner: Any) -> str:
    if owner.pk == actor.pk:
        return reverse("alerts:channel_list")
    return reverse("alerts:staff_channels", args=[owner.pk])


def _channels_page(
    request: HttpRequest,
    actor: User,
    subject: User,
    form: ChannelForm | None = None,
    status: int = 200,
) -> HttpResponse:
    context = {
        "subject": subject,
        "is_mine": subject.pk == actor.pk,
        "can_manage": selectors.can_manage_channels_of(actor, subject),
        "can_browse": selectors.can_browse_staff_channels(actor),
        "channels": selectors.channels_of(actor=actor, user=subject),
        "form": form or ChannelForm(),
    }
    return render(request, "alerts/setup_channel_list.html", context, status=status)


def _channel_add(request: HttpRequest, actor: User, subject: User) -> HttpResponse:
    form = ChannelForm(request.POST)
    if _save(form, partial(services.staff_channel_add, actor=actor, user=subject)) is None:
        return _channels_page(request, actor, subject, form, status=BAD)
    messages.success(request, _("Channel added."))
    return redirect(_channels_url(actor, subject))


@login_required
@require_GET
def channel_list(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    return _channels_page(request, actor, actor)


@login_required
@require_POST
def channel_add(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    return _channel_add(request, actor, actor)


@login_required
@require_GET
def staff_channel_list(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    staff = selectors.staff_with_channels(actor=actor)
    return render(request, "alerts/setup_staff_list.html", {"staff": staff})


def _staff_member(request: HttpRequest, user_id: Any) -> tuple[User, User]:
    # Someone else's channels: coordinators look, administrators manage. One's own are on
    # "My channels", so this address is for those two roles only.
    actor = _actor(request)
    if not selectors.can_browse_staff_channels(actor):
        raise Http404
    return actor, selectors.user_get(actor=actor, user_id=user_id)


@login_required
@require_GET
def staff_channels(request: HttpRequest, user_id: Any) -> HttpResponse:
    actor, subject = _staff_member(request, user_id)
    return _channels_page(request, actor, subject)


@login_required
@require_POST
def staff_channel_add(request: HttpRequest, user_id: Any) -> HttpResponse:
    actor, subject = _staff_member(request, user_id)
    if not selectors.can_manage_channels_of(actor, subject):
        raise Http404
    return _channel_add(request, actor, subject)


@login_required
@require_http_methods(["GET", "POST"])
def channel_edit(request: HttpRequest, channel_id: Any) -> HttpResponse:
    actor = _actor(request)
    channel = selectors.channel_get(actor=actor, channel_id=channel_id)
    form = ChannelEditForm(request.POST or None, initial=_initial(channel, ChannelEditForm))
    update = partial(services.staff_channel_update, actor=actor, channel=channel)
    if request.method == "POST" and _save(form, update) is not None:
        messages.success(request, _("Channel saved."))
        return redirect(_channels_url(actor, channel.user))
    status = BAD if request.method == "POST" else 200
    context = {"channel": channel, "form": form, "back": _channels_url(actor, channel.user)}
    return render(request, "alerts/setup_channel_edit.html", context, status=status)


def _channel(request: HttpRequest, channel_id: Any) -> tuple[User, StaffChannel, str]:
    actor = _actor(request)
    channel = selectors.channel_get(actor=actor, channel_id=channel_id)
    return actor, channel, _channels_url(actor, channel.user)


@login_required
@require_POST
def channel_remove(request: HttpRequest, channel_id: Any) -> HttpResponse:
    actor, channel, to = _channel(request, channel_id)
    action = partial(services.staff_channel_remove, actor=actor, channel=channel)
    return _then(request, action, _("Channel removed."), to)


@login_required
@require_POST
def channel_move(request: HttpRequest, channel_id: Any) -> HttpResponse:
    actor, channel, to = _channel(request, channel_id)
    return _move(request, partial(services.staff_channel_move, actor=actor, channel=channel), to)
