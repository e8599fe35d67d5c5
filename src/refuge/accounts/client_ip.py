"""The client address used for login lockout (django-axes) and to tell a login from a new place
(refuge.accounts.places, which keeps only a keyed digest of its network), and nothing else.

Behind nginx every request comes from 127.0.0.1; without the forwarded address a per-username
lockout would let anyone who knows staff usernames lock the hotline out."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    remote = str(request.META.get("REMOTE_ADDR", ""))
    if not settings.BEHIND_PROXY:
        return remote
    # nginx appends the address it saw to X-Forwarded-For; earlier entries are client-supplied.
    forwarded = str(request.META.get("HTTP_X_FORWARDED_FOR", ""))
    last = forwarded.rsplit(",", 1)[-1].strip()
    return last or remote
