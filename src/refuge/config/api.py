"""The JSON API under /api/v1/ (Django Ninja). Routers live in each app's api module.

Every error is JSON shaped like accounts.api.ErrorOut, so clients handle one format:
  400 unreadable body, 401 no valid credentials, 403 CSRF failure (session requests only),
  404 missing or not allowed (the two are indistinguishable on purpose), 413 body too large,
  422 invalid input or refused by the domain, with messages per field.
Messages follow the request's language (LocaleMiddleware: Accept-Language or the language cookie).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any
from uuid import UUID

from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.parser import Parser
from ninja.types import DictStrAny

from refuge.accounts import api as accounts_api
from refuge.accounts import api_notices, api_seal
from refuge.accounts.models import User
from refuge.accounts.stepup import StepUpRequiredError
from refuge.alerts import api as alerts_api
from refuge.cases import api as cases_api
from refuge.config.api_messages import translated_message
from refuge.core.errors import DomainError, NotFoundError
from refuge.evidence import api as evidence_api
from refuge.exports import api as exports_api
from refuge.people import api as people_api
from refuge.people import api_contacts as people_api_contacts
from refuge.security import access
from refuge.security.crypto import DecryptionError
from refuge.security.sealed_web import sealed_response
from refuge.security.sealing import SealedError

_PARAM_SOURCES = {"body", "query", "path", "header", "cookie", "form", "file"}
BAD_REQUEST = 400
FORBIDDEN = 403


class ObjectParser(Parser):
    """Request bodies must be JSON objects of valid Unicode.

    Ninja would treat `[1]` as an empty body (every field at its default, so a POST could create
    a record from nothing), and a lone surrogate (`"\\ud800"`) would only fail when encrypted.
    Raising here makes ninja answer 400 before any endpoint runs.
    """

    def parse_body(self, request: HttpRequest) -> DictStrAny:
        data = json.loads(request.body)
        if not isinstance(data, dict):
            raise TypeError("the request body is not a JSON object")
        json.dumps(data, ensure_ascii=False).encode("utf-8")  # raises on lone surrogates
        return data


api = NinjaAPI(
    title="Refuge API",
    version="1",
    description=(
        "Send `Authorization: Bearer <token>` (create one with `refuge token create USER`), or "
        "use the signed-in browser session with the `X-CSRFToken` header on writes (a session "
        "counts only after its second factor). Identities and relatives answer 403 unless the "
        "token was created with `--reveal`, or the session re-authenticated at "
        "/accounts/step-up/ within the last minutes. "
        "Objects you may not see answer 404, exactly like objects that do not exist."
    ),
    urls_namespace="api",
    # Ninja's interactive docs load Swagger UI from a CDN; the schema alone is served.
    docs_url=None,
    auth=[accounts_api.TokenAuth(), accounts_api.SessionAuth()],
    parser=ObjectParser(),
)
api.add_router("/", accounts_api.router)
api.add_router("/", api_seal.router)
api.add_router("/", api_notices.router)
api.add_router("/", people_api.router)
api.add_router("/", people_api_contacts.router)
api.add_router("/", cases_api.router)
api.add_router("/", alerts_api.router)
api.add_router("/", exports_api.router)
api.add_router("/", evidence_api.router)

# Path parameter -> how its endpoints fetch the object it names (see accounts.api.Fetch).
PATH_OBJECTS = {
    **accounts_api.PATH_OBJECTS,
    **people_api.PATH_OBJECTS,
    **people_api_contacts.PATH_OBJECTS,
    **cases_api.PATH_OBJECTS,
    **alerts_api.PATH_OBJECTS,
    **exports_api.PATH_OBJECTS,
    **evidence_api.PATH_OBJECTS,
}
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def _error(
    request: HttpRequest,
    status: int,
    detail: str,
    errors: Mapping[str, list[str]] | None = None,
) -> HttpResponse:
    body: dict[str, Any] = {"detail": detail}
    if errors:
        body["errors"] = dict(errors)
    return api.create_response(request, body, status=status)


def _names_hidden_object(request: HttpRequest) -> bool:
    """Does the URL name an object the caller may not see (GET) or act on (other methods)?

    Ninja judges the body before the endpoint fetches the object, so without this an outsider
    would get 400/413/422 where the endpoint answers 404. Checking first keeps the rule of the web
    views: for an object you may not see, every request is a 404, and nothing about the request
    (not even what a valid one looks like) is discussed.

    Writes are checked with LOG, the weakest write action (LOG reaches every object EDIT does,
    plus emergency cases for operators): it never answers 404 where the endpoint would not.
    """
    user = getattr(request, "auth", None)
    match = request.resolver_match
    if not isinstance(user, User) or match is None:
        return False
    action = access.VIEW if request.method in SAFE_METHODS else access.LOG
    for name, value in match.kwargs.items():
        fetch = PATH_OBJECTS.get(name)
        if fetch is None:
            continue
        try:
            object_id = UUID(str(value))
        except ValueError:
            continue  # a malformed id is itself the error to report (422)
        try:
            fetch(user, object_id, action)
        except NotFoundError:
            return True
    return False


def _not_found(request: HttpRequest) -> HttpResponse:
    return _error(request, 404, _("Not found."))


def _field_name(loc: Iterable[Any]) -> str:
    """("body", "payload", "identity", "phones", 0) -> "identity.phones.0"."""
    parts = [str(part) for part in loc]
    source = ""
    if parts and parts[0] in _PARAM_SOURCES:
        source = parts.pop(0)
        if source == "body" and parts:
            parts.pop(0)  # the endpoint's parameter name, which clients never see
    return ".".join(parts) or source or "__all__"


@api.exception_handler(DomainError)
def on_domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    return _error(request, 422, exc.message, exc.field_errors)


@api.exception_handler(SealedError)
def on_sealed(request: HttpRequest, exc: SealedError) -> HttpResponse:
    del exc
    return sealed_response(request)


@api.exception_handler(NotFoundError)
def on_not_found(request: HttpRequest, exc: NotFoundError) -> HttpResponse:
    del exc
    return _not_found(request)


@api.exception_handler(Http404)
def on_http404(request: HttpRequest, exc: Http404) -> HttpResponse:
    del exc
    return _not_found(request)


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    if _names_hidden_object(request):
        return _not_found(request)
    errors: dict[str, list[str]] = {}
    for error in exc.errors:
        # Only the message: pydantic's error also carries the rejected input, which may be an
        # identity and has no business in a response or a log.
        errors.setdefault(_field_name(error.get("loc", ())), []).append(translated_message(error))
    return _error(request, 422, _("Please correct the errors below."), errors)


@api.exception_handler(AuthenticationError)
def on_unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    del exc
    response = _error(
        request,
        401,
        _("Authentication required: send “Authorization: Bearer <token>” or sign in."),
    )
    response["WWW-Authenticate"] = 'Bearer realm="refuge"'
    return response


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    # Ninja raises HttpError for an unparsable body (400) and a failed CSRF check (403); its
    # English texts are replaced by messages that say what to do.
    if exc.status_code == BAD_REQUEST:
        if _names_hidden_object(request):
            return _not_found(request)
        return _error(request, BAD_REQUEST, _("The request body must be a valid JSON object."))
    if exc.status_code == FORBIDDEN:
        return _error(
            request,
            FORBIDDEN,
            _(
                "CSRF check failed: send the X-CSRFToken header with session requests that "
                "change data."
            ),
        )
    return _error(request, exc.status_code, str(exc))


@api.exception_handler(StepUpRequiredError)
def on_step_up_required(request: HttpRequest, exc: StepUpRequiredError) -> HttpResponse:
    # 403, not 401: the caller is signed in but must re-authenticate (accounts.stepup).
    return _error(request, FORBIDDEN, exc.message)


@api.exception_handler(RequestDataTooBig)
def on_too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    del exc
    if _names_hidden_object(request):
        return _not_found(request)
    return _error(request, 413, _("The request is too large."))


@api.exception_handler(DecryptionError)
def on_decryption_error(request: HttpRequest, exc: DecryptionError) -> HttpResponse:
    # The message names the table, column and row, never plaintext; the failure is already
    # audited by the field that raised it.
    return _error(request, 500, str(exc))
