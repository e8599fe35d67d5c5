"""Logging and error reporting that never carry identities, tokens or PINs."""

from __future__ import annotations

import logging
import re
from typing import Any

from django.views.debug import SafeExceptionReporterFilter

# Phone-like digit runs and bearer tokens are masked wherever they slip into a log message.
_PATTERNS = [
    re.compile(r"\+?\d[\d\s().-]{7,}\d"),
    re.compile(r"(?i)(bearer|token|pin|password)([=:\s]+)\S+"),
]


def redact(text: str) -> str:
    text = _PATTERNS[0].sub("[redacted]", text)
    return _PATTERNS[1].sub(r"\1\2[redacted]", text)


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
