"""Turns the domain's NotFoundError into the same 404 as a missing URL, and RoleNotAllowedError
into a 403 page that says who uses the page."""

from __future__ import annotations

from collections.abc import Callable

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from refuge.core.errors import NotFoundError, RoleNotAllowedError

FORBIDDEN = 403


class NotFoundErrorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, NotFoundError):
            raise Http404 from exception
        if isinstance(exception, RoleNotAllowedError):
            context = {"explanation": exception.message}
            return render(request, "role_not_allowed.html", context, status=FORBIDDEN)
        return None
