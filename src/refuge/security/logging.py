"""Logging and error reporting that never carry identities, tokens or PINs."""

from __future__ import annotations

import logging
import re
from typing import Any

from django.views.debug import SafeExceptionReporterFilter

# Phone-like digit runs and bearer tokens are masked wherever they slip into a log message.
_PHONE_LIKE = re.compile(r"\+?\d[\d\s().-]{7,}\d")
_SECRET_AFTER_WORD = re.compile(r"(?i)(bearer|token|pin|password)([=:\s]+)\S+")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}\b")
# Unseal shares (plain or passphrase-locked): the whole share, whatever follows the prefix.
_SHARE = re.compile(r"(?i)refuge-share(-locked)?:\S*")
_MIN_PHONE_DIGITS = 9


def _mask_phone(match: re.Match[str]) -> str:
    text = match.group(0)
    digits = sum(ch.isdigit() for ch in text)
    if digits < _MIN_PHONE_DIGITS or _ISO_DATE.match(text):
        return text
    return "[redacted]"


def redact(text: str) -> str:
    text = _SHARE.sub("[redacted share]", text)
    text = _PHONE_LIKE.sub(_mask_phone, text)
    return _SECRET_AFTER_WORD.sub(r"\1\2[redacted]", text)


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        return True


class NoLocalsExceptionReporterFilter(SafeExceptionReporterFilter):
    """Error reports show the stack but no frame variables or request data."""

    def get_traceback_frame_variables(self, request: Any, tb_frame: Any) -> Any:
        return {}.items()

    def get_post_parameters(self, request: Any) -> dict[str, Any]:
        return {}
