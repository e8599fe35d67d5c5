"""Django's admin is for superusers only (emergency repairs of accounts and teams), never a way
around need-to-know: no protected model (people, cases, keys, audit) is registered in it, and
every change made here is written to the audit trail like any other."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.db import models, transaction
from django.http import HttpRequest

from refuge.accounts.models import Team, TeamMembership, User
from refuge.security import audit


class SuperuserAdminSite(admin.AdminSite):
    site_header = "Refuge"

    def has_permission(self, request: HttpRequest) -> bool:
        user = request.user
        return bool(user.is_active and user.is_superuser)


site = SuperuserAdminSite(name="admin")


class AuditedAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            audit.record(
                _action(obj, "updated" if change else "created"),
                actor=request.user,
                obj=obj,
                detail={"via": "admin", "fields": sorted(form.changed_data)},
            )

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        with transaction.atomic():
            audit.record(
                _action(obj, "deleted"), actor=request.user, obj=obj, detail={"via": "admin"}
            )
            super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        with transaction.atomic():
            for obj in queryset:
                self.delete_model(request, obj)


def _action(obj: models.Model, event: str) -> str:
    return f"refuge.{obj._meta.app_label}.{obj._meta.model_name}.{event}"


class TeamMembershipInline(admin.TabularInline):  # type: ignore[type-arg]
    model = TeamMembership
    extra = 0


@admin.register(User, site=site)
class RefugeUserAdmin(AuditedAdmin, UserAdmin):  # type: ignore[type-arg]
    list_display = ("username", "role", "is_active", "is_superuser", "last_login")
    list_filter = ("role", "is_active", "is_superuser")
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Refuge", {"fields": ("role", "language", "is_active", "is_superuser", "is_staff")}),
    )
    add_fieldsets = ((None, {"fields": ("username", "role", "password1", "password2")}),)


@admin.register(Team, site=site)
class TeamAdmin(AuditedAdmin):
    list_display = ("name",)
    inlines = (TeamMembershipInline,)
