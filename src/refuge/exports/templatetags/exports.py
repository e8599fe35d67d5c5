"""`{% export_approvals_waiting user as n %}`: how many export requests `user` could approve.

A template tag so that the dashboard (in `cases`, a lower layer) can show the count through an
include owned by this app, without importing it."""

from __future__ import annotations

from typing import Any

from django import template

from refuge.exports import selectors

register = template.Library()


@register.simple_tag
def export_approvals_waiting(user: Any) -> int:
    if not getattr(user, "is_authenticated", False):
        return 0
    return selectors.export_pending_approval_count(actor=user)
