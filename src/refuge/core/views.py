"""Error pages that need more than a template: a request body over the size limit."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from django.views import defaults

TOO_LARGE = 413


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler400. A form post over REFUGE_MAX_REQUEST_BYTES cannot be read (so it cannot be
    shown again): say so and how to go on, instead of a bare "Bad Request". htmx requests get
    the message as plain text, which static/refuge/forms.js shows above the form while the
    form keeps what was typed."""
    if not isinstance(exception, RequestDataTooBig):
        return defaults.bad_request(request, exception)
    message = _(
        "What you sent is too large (more than %(size)s) and was not read. Nothing was saved. "
        "Shorten the text and send it again."
    ) % {"size": filesizeformat(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)}
    if request.headers.get("HX-Request") == "true":
        return HttpResponse(message, status=TOO_LARGE, content_type="text/plain; charset=utf-8")
    return render(request, "too_large.html", {"message": message}, status=TOO_LARGE)
