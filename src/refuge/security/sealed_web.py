"""How the web behaves while sealed: SealedError becomes a plain 503 page (JSON on /api/), and
every staff page gets the sealed banner from one keyd status call per request at most."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _

from refuge.security.keyd.client import KeydStatus, keyd_client
from refuge.security.sealing import SealedError

Handler = Callable[[HttpRequest], HttpResponse]
_STATUS_ATTRIBUTE = "_refuge_keyd_status"


def request_seal_status(request: HttpRequest) -> KeydStatus | None:
    """keyd's status, asked once per request; None in key-file mode (nothing to seal)."""
    if settings.KEY_MODE != "sealed":
        return None
    cached = getattr(request, _STATUS_ATTRIBUTE, None)
    if cached is None:
        cached = keyd_client().status()
        setattr(request, _STATUS_ATTRIBUTE, cached)
    return cached


def sealed_message(threshold: int) -> str:
    return _("Refuge is sealed: %(k)s key holders must unseal it") % {"k": threshold or "k"}


def sealed_response(request: HttpRequest) -> HttpResponse:
    status = request_seal_status(request) or KeydStatus.unreachable()
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"detail": sealed_message(status.threshold), "sealed": True}, status=503
        )
    user = getattr(request, "user", None)
    can_unseal = bool(user is not None and getattr(user, "is_coordinator", False))
    response = TemplateResponse(
        request,
        "sealed.html",
        {
            "threshold": status.threshold or 3,
            "progress": status.progress,
            "can_unseal": can_unseal,
        },
        status=503,
    )
    response["Retry-After"] = "60"
    return response.render()


class SealedMiddleware:
    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, SealedError):
            return None
        return sealed_response(request)


def seal_banner(request: HttpRequest) -> dict[str, Any]:
    """Context processor: `sealed_banner` (staff pages) and `demo_unsealed_banner`."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    status = request_seal_status(request)
    if status is None:
        return {}
    context: dict[str, Any] = {"seal": status, "sealed_banner": status.sealed}
    if settings.DEMO_MODE and not status.sealed:
        context["demo_unsealed_banner"] = True
    return context
