"""Keeps the protected person's routes out of the logs.

The page's URL holds the person's secret token, and a log line would put it next to a time (and,
in some servers' formats, a client address). Django's development server (`django.server`) and
request logger (`django.request`) drop every line about /c/ and /intake/. In production, nginx
and gunicorn write access logs of their own, which must leave these paths out too (deploy/).
"""

from __future__ import annotations

import logging
import re

PERSON_ROUTES = ("/c/", "/intake/")
LOGGERS = ("django.server", "django.request")
_REQUEST_LINE = re.compile(r'"[A-Z]+ (/\S*)')


def is_person_route(path: str) -> bool:
    return path.startswith(PERSON_ROUTES)


class DropPersonRoutes(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        path = getattr(getattr(record, "request", None), "path", None)
        if isinstance(path, str) and is_person_route(path):
            return False
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True
        match = _REQUEST_LINE.search(message)
        return not (match and is_person_route(match.group(1)))


def install() -> None:
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, DropPersonRoutes) for f in logger.filters):
            logger.addFilter(DropPersonRoutes())
