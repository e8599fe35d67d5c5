"""The protected person's routes never reach the development server's or the request logs."""

from __future__ import annotations

import logging

import pytest
from django.test import RequestFactory

from refuge.intake import logs


def _record(logger: str, message: str, *args: object, **extra: object) -> logging.LogRecord:
    return logging.getLogger(logger).makeRecord(
        logger, logging.INFO, __file__, 1, message, args, None, extra=extra or None
    )


@pytest.mark.parametrize(
    ("line", "kept"),
    [
        ('"GET /c/q7gdnOvO5na2lVfa_pv7_lJlAonfj2AArPRYxyrck-w/ HTTP/1.1" 200 785', False),
        ('"POST /c/anything/ HTTP/1.1" 400 900', False),
        ('"POST /intake/sms/ HTTP/1.1" 200 30', False),
        ('"GET /cases/ HTTP/1.1" 200 5000', True),
        ('"GET /accounts/login/?next=/c/x/ HTTP/1.1" 302 0', True),
        ("worker started", True),
    ],
)
def test_server_lines_about_person_routes_are_dropped(line: str, kept: bool):
    record = _record("django.server", "%s", line)
    assert logs.DropPersonRoutes().filter(record) is kept


def test_request_records_about_person_routes_are_dropped():
    request = RequestFactory().get("/c/secret-token/")
    record = _record("django.request", "Internal Server Error: %s", request.path, request=request)
    assert logs.DropPersonRoutes().filter(record) is False
    staff = RequestFactory().get("/cases/")
    record = _record("django.request", "Internal Server Error: %s", staff.path, request=staff)
    assert logs.DropPersonRoutes().filter(record) is True


def test_the_filter_is_installed_on_djangos_loggers():
    for name in logs.LOGGERS:
        assert any(isinstance(f, logs.DropPersonRoutes) for f in logging.getLogger(name).filters)
