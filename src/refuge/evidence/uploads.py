"""Streaming, encrypting intake of uploads: a Django upload handler and the middleware that
installs it.

Django's own handlers keep an upload in memory (MemoryFileUploadHandler) or in a plain temporary
file (TemporaryFileUploadHandler): plaintext evidence on disk. On the evidence upload routes
`EvidenceUploadMiddleware` replaces them with `EncryptingUploadHandler` before anything reads
the request body (its process_view runs before CsrfViewMiddleware's, which reads request.POST).
The handler checks who is uploading to which case before it writes a byte, then hashes and
encrypts each chunk as it arrives (refuge.evidence.services.EvidenceUpload). The view or API
endpoint commits the finished upload; whatever is not committed when the response is done
(refused, CSRF failure, error, client gone) is removed by the middleware.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from refuge.accounts.models import User
from refuge.core.errors import NotFoundError
from refuge.evidence import selectors, services

# The routes whose uploads are evidence (URL names, see evidence.urls and evidence.api).
UPLOAD_VIEWS = frozenset({"evidence:upload", "api:evidence_upload"})
FILE_FIELD = "file"
_HANDLER = "_refuge_evidence_upload_handler"

NOT_FOUND = 404
TOO_LARGE = 413
INVALID = 422
UNAUTHENTICATED = 401


class ReceivedEvidence(UploadedFile):  # type: ignore[type-arg]  # generic in the stubs only
    """What request.FILES holds for an evidence upload: the name and size, never the bytes
    (they are already encrypted on disk)."""

    def __init__(self, upload: services.EvidenceUpload, name: str, size: int) -> None:
        super().__init__(file=None, name=name, content_type="application/octet-stream", size=size)
        self.upload = upload

    def open(self, mode: str | None = None, *args: Any, **kwargs: Any) -> ReceivedEvidence:
        raise ValueError("evidence uploads cannot be read back")

    def close(self) -> None:
        return None


def _actor(request: HttpRequest) -> User | None:
    # API tokens put the user on request.auth (the body is parsed after authentication); the
    # browser session on request.user.
    for candidate in (getattr(request, "auth", None), getattr(request, "user", None)):
        if isinstance(candidate, User) and candidate.is_active:
            return candidate
    return None


class EncryptingUploadHandler(FileUploadHandler):
    chunk_size = 1 << 20

    def __init__(self, request: HttpRequest) -> None:
        super().__init__(request)
        self.upload: services.EvidenceUpload | None = None
        self.error = ""
        self.status = 0
        self.files_seen = 0

    def _refuse(self, status: int, message: str) -> SkipFile:
        if not self.error:
            self.status, self.error = status, message
        if self.upload is not None:
            self.upload.abort()
            self.upload = None
        return SkipFile()

    def new_file(  # noqa: PLR0917 - Django's FileUploadHandler signature
        self,
        field_name: str,
        file_name: str,
        content_type: str,
        content_length: int | None,
        charset: str | None = None,
        content_type_extra: dict[str, bytes] | None = None,
    ) -> None:
        super().new_file(
            field_name, file_name, content_type, content_length, charset, content_type_extra
        )
        self.files_seen += 1
        if field_name != FILE_FIELD or self.files_seen > 1:
            raise self._refuse(INVALID, _("Send exactly one file, in the field “file”."))
        if content_length is not None and content_length > services.max_bytes():
            raise self._refuse(TOO_LARGE, services.too_large_message())
        request = self.request
        actor = _actor(request) if request is not None else None
        if request is None or actor is None:
            raise self._refuse(UNAUTHENTICATED, _("Sign in to upload evidence."))
        match = request.resolver_match
        try:
            case = selectors.case_for_upload(
                actor=actor, case_id=match.kwargs.get("case_id") if match else None
            )
        except NotFoundError:
            raise self._refuse(NOT_FOUND, _("Not found.")) from None
        self.upload = services.evidence_upload_begin(
            actor=actor, case=case, original_name=file_name
        )

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        if self.upload is None:
            return None
        try:
            self.upload.write(raw_data)
        except services.EvidenceTooLargeError:
            raise self._refuse(TOO_LARGE, services.too_large_message()) from None
        return None  # no other handler ever sees the bytes

    def file_complete(self, file_size: int) -> ReceivedEvidence | None:
        if self.upload is None:
            return None
        self.upload.finish()
        return ReceivedEvidence(self.upload, self.file_name or "", file_size)

    def upload_interrupted(self) -> None:
        # The request ended in the middle of the file.
        if self.upload is not None:
            self.upload.abort()
            self.upload = None

    def discard_uncommitted(self) -> None:
        if self.upload is not None and not self.upload.committed:
            self.upload.abort()


def handler_of(request: HttpRequest) -> EncryptingUploadHandler | None:
    handler = getattr(request, _HANDLER, None)
    return handler if isinstance(handler, EncryptingUploadHandler) else None


def is_upload_route(request: HttpRequest) -> bool:
    match = request.resolver_match
    return request.method == "POST" and match is not None and match.view_name in UPLOAD_VIEWS


class EvidenceUploadMiddleware:
    """Goes before django.middleware.csrf.CsrfViewMiddleware in settings.MIDDLEWARE."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            return self.get_response(request)
        finally:
            handler = handler_of(request)
            if handler is not None:
                handler.discard_uncommitted()

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., Any],
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> None:
        if is_upload_route(request):
            handler = EncryptingUploadHandler(request)
            # Raises if the body was already parsed: then the data went elsewhere, loudly.
            request.upload_handlers = [handler]
            setattr(request, _HANDLER, handler)
