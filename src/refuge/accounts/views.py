"""Log in, log out and the staff pages (accounts and teams). Thin: parse, call one service or
selector, render."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.core.exceptions import NON_FIELD_ERRORS
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils import translation
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods, require_POST
from typing_extensions import override

from refuge.accounts import selectors, services
from refuge.accounts.forms import (
    LoginForm,
    MemberAddForm,
    MySettingsForm,
    PasswordSetForm,
    TeamCreateForm,
    UserCreateForm,
    UserEditForm,
)
from refuge.accounts.models import Team, User
from refuge.core.errors import DomainError
from refuge.core.web import apply_domain_error, paginate, require_role
from refuge.security import audit

# Audit details keep what was typed as a username (it may be a real user's), nothing more.
MAX_AUDITED_USERNAME = 150
# ASVS 14.3.1: a shared or seized computer keeps nothing of the session after logout.
CLEAR_SITE_DATA = '"cache", "cookies", "storage"'


def _actor(request: HttpRequest) -> User:
    user = request.user
    if not isinstance(user, User):  # login_required has already sent anonymous users away
        raise Http404
    return user


class RefugeLoginView(LoginView):
    template_name = "accounts/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True

    @override
    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        user = form.get_user()
        with transaction.atomic():
            response = super().form_valid(form)  # rotates the session key (ASVS 7.2.4)
            audit.record("refuge.accounts.session.logged_in", actor=user, obj=user, detail={})
        language = getattr(user, "language", "") or settings.LANGUAGE_CODE
        translation.activate(language)
        # LocaleMiddleware reads this cookie, as it does for the language switcher in the header.
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            language,
            max_age=settings.LANGUAGE_COOKIE_AGE,
            path=settings.LANGUAGE_COOKIE_PATH,
            domain=settings.LANGUAGE_COOKIE_DOMAIN,
            secure=settings.LANGUAGE_COOKIE_SECURE,
            httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
            samesite=settings.LANGUAGE_COOKIE_SAMESITE,
        )
        return response

    @override
    def get_success_url(self) -> str:
        # The password is only the first step: the second factor (or enrolment) comes next, and
        # VerifiedSessionMiddleware keeps every other page closed until then.
        target = self.get_redirect_url() or resolve_url(settings.LOGIN_REDIRECT_URL)
        return reverse("accounts:second_factor") + "?" + urlencode({"next": target})

    @override
    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        # Only real attempts (both fields filled, credentials refused) are recorded; the same
        # entry is written whether or not the account exists, and never the password.
        if form.has_error(NON_FIELD_ERRORS, "invalid_login") or form.has_error(
            NON_FIELD_ERRORS, "inactive"
        ):
            typed = str(form.data.get("username", ""))[:MAX_AUDITED_USERNAME]
            audit.record(
                "refuge.accounts.session.login_failed", actor=None, detail={"username": typed}
            )
        return super().form_invalid(form)


@require_POST
@csrf_protect
@never_cache
def logout_view(request: HttpRequest) -> HttpResponse:
    user = request.user
    if isinstance(user, User):
        with transaction.atomic():
            audit.record("refuge.accounts.session.logged_out", actor=user, obj=user, detail={})
    logout(request)
    response = HttpResponseRedirect(resolve_url(settings.LOGOUT_REDIRECT_URL))
    response["Clear-Site-Data"] = CLEAR_SITE_DATA
    return response


STAFF_PAGES_EXPLAINED = _lazy(
    "The staff and team pages are for administrators, who manage accounts, and coordinators, "
    "who manage teams."
)


def _require_account_manager(actor: User) -> None:
    if actor.role not in services.ACCOUNT_MANAGERS:
        raise Http404


def _require_team_manager(actor: User) -> None:
    if actor.role not in services.TEAM_MANAGERS:
        raise Http404


@login_required
def user_list(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    require_role(actor, selectors.STAFF_VIEWERS, str(STAFF_PAGES_EXPLAINED))
    # NUL never occurs in stored text, and PostgreSQL refuses it in a query (a 500 otherwise).
    query = request.GET.get("q", "").replace("\x00", "")
    page = paginate(request, selectors.user_list(actor=actor, query=query))
    context = {
        "page": page,
        "q": query,
        "can_manage_accounts": actor.role in services.ACCOUNT_MANAGERS,
    }
    return render(request, "accounts/user_list.html", context)


@login_required
def user_create(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    require_role(
        actor, services.ACCOUNT_MANAGERS, _("Creating staff accounts is for administrators.")
    )
    form = UserCreateForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            try:
                user = services.user_create(
                    actor=actor,
                    username=form.cleaned_data["username"],
                    role=form.cleaned_data["role"],
                    password=form.cleaned_data["password"],
                    language=form.cleaned_data["language"],
                )
            except DomainError as error:
                apply_domain_error(form, error)
            else:
                messages.success(request, _("Account %(name)s created.") % {"name": user.username})
                return redirect("accounts:user_list")
        return render(request, "accounts/user_create.html", {"form": form}, status=400)
    return render(request, "accounts/user_create.html", {"form": form})


@login_required
def user_edit(request: HttpRequest, user_id: Any) -> HttpResponse:
    actor = _actor(request)
    _require_account_manager(actor)
    user = selectors.user_get(actor=actor, user_id=user_id)
    initial = {"role": user.role, "language": user.language, "is_active": user.is_active}
    which = request.POST.get("form") if request.method == "POST" else None
    account_form = UserEditForm(request.POST if which == "account" else None, initial=initial)
    password_form = PasswordSetForm(request.POST if which == "password" else None)
    if which == "account" and account_form.is_valid():
        try:
            services.user_update(
                actor=actor,
                user=user,
                role=account_form.cleaned_data["role"],
                language=account_form.cleaned_data["language"],
                is_active=account_form.cleaned_data["is_active"],
            )
        except DomainError as error:
            apply_domain_error(account_form, error)
        else:
            messages.success(request, _("Account %(name)s saved.") % {"name": user.username})
            return redirect("accounts:user_list")
    elif which == "password" and password_form.is_valid():
        try:
            services.user_set_password(
                actor=actor, user=user, password=password_form.cleaned_data["password"]
            )
        except DomainError as error:
            apply_domain_error(password_form, error)
        else:
            messages.success(request, _("New password set for %(name)s.") % {"name": user.username})
            return redirect("accounts:user_list")
    context = {"subject": user, "account_form": account_form, "password_form": password_form}
    status = 400 if request.method == "POST" else 200
    return render(request, "accounts/user_edit.html", context, status=status)


@login_required
def team_list(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    require_role(actor, selectors.STAFF_VIEWERS, str(STAFF_PAGES_EXPLAINED))
    teams = selectors.team_list(actor=actor)
    context = {
        "teams": teams,
        "can_manage_teams": actor.role in services.TEAM_MANAGERS,
    }
    return render(request, "accounts/team_list.html", context)


@login_required
def team_create(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    require_role(actor, services.TEAM_MANAGERS, _("Creating teams is for coordinators."))
    form = TeamCreateForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            try:
                team = services.team_create(actor=actor, name=form.cleaned_data["name"])
            except DomainError as error:
                apply_domain_error(form, error)
            else:
                messages.success(request, _("Team %(name)s created.") % {"name": team.name})
                return redirect("accounts:team_detail", team_id=team.pk)
        return render(request, "accounts/team_create.html", {"form": form}, status=400)
    return render(request, "accounts/team_create.html", {"form": form})


def _team_page(
    request: HttpRequest, actor: User, team: Team, form: MemberAddForm | None, status: int = 200
) -> HttpResponse:
    can_manage = actor.role in services.TEAM_MANAGERS
    if can_manage and form is None:
        form = MemberAddForm(candidates=selectors.team_candidates(actor=actor, team=team))
    context = {
        "team": team,
        "members": selectors.team_members(actor=actor, team=team),
        "can_manage_teams": can_manage,
        "form": form,
    }
    return render(request, "accounts/team_detail.html", context, status=status)


@login_required
def team_detail(request: HttpRequest, team_id: Any) -> HttpResponse:
    actor = _actor(request)
    team = selectors.team_get(actor=actor, team_id=team_id)
    return _team_page(request, actor, team, None)


@login_required
@require_POST
def team_member_add(request: HttpRequest, team_id: Any) -> HttpResponse:
    actor = _actor(request)
    _require_team_manager(actor)
    team = selectors.team_get(actor=actor, team_id=team_id)
    form = MemberAddForm(request.POST, candidates=selectors.team_candidates(actor=actor, team=team))
    if form.is_valid():
        member = form.cleaned_data["user"]
        try:
            services.team_member_add(
                actor=actor, team=team, user=member, is_lead=form.cleaned_data["is_lead"]
            )
        except DomainError as error:
            apply_domain_error(form, error)
        else:
            messages.success(request, _("%(name)s joined the team.") % {"name": member.username})
            return redirect("accounts:team_detail", team_id=team.pk)
    return _team_page(request, actor, team, form, status=400)


def _member_action(request: HttpRequest, team_id: Any, user_id: Any) -> tuple[User, Team, User]:
    actor = _actor(request)
    _require_team_manager(actor)
    team = selectors.team_get(actor=actor, team_id=team_id)
    member = selectors.user_get(actor=actor, user_id=user_id)
    return actor, team, member


@login_required
@require_POST
def team_member_remove(request: HttpRequest, team_id: Any, user_id: Any) -> HttpResponse:
    actor, team, member = _member_action(request, team_id, user_id)
    try:
        services.team_member_remove(actor=actor, team=team, user=member)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("%(name)s left the team.") % {"name": member.username})
    return redirect("accounts:team_detail", team_id=team.pk)


@login_required
@require_POST
def team_member_lead(request: HttpRequest, team_id: Any, user_id: Any) -> HttpResponse:
    actor, team, member = _member_action(request, team_id, user_id)
    is_lead = request.POST.get("is_lead") == "1"
    try:
        services.team_member_set_lead(actor=actor, team=team, user=member, is_lead=is_lead)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        message = (
            _("%(name)s now leads the team.")
            if is_lead
            else _("%(name)s no longer leads the team.")
        )
        messages.success(request, message % {"name": member.username})
    return redirect("accounts:team_detail", team_id=team.pk)


@login_required
@require_http_methods(["GET", "POST"])
def my_settings(request: HttpRequest) -> HttpResponse:
    """A staff member's own preferences: the time zone every page shows times in."""
    actor = _actor(request)
    form = MySettingsForm(
        request.POST if request.method == "POST" else None,
        initial={"time_zone": actor.time_zone},
    )
    if form.is_bound and form.is_valid():
        zone = form.cleaned_data["time_zone"]
        if zone != actor.time_zone:
            with transaction.atomic():
                actor.time_zone = zone
                actor.save(update_fields=["time_zone"])
                audit.record(
                    "refuge.accounts.user.settings_changed",
                    actor=actor,
                    obj=actor,
                    detail={"fields": ["time_zone"], "time_zone": zone},
                )
        messages.success(request, _("Your settings are saved."))
        return redirect("accounts:my_settings")
    status = 400 if form.is_bound else 200
    return render(request, "accounts/my_settings.html", {"form": form}, status=status)
