import logging

import pytest

from refuge.security.logging import RedactingFilter, redact


@pytest.mark.parametrize(
    "message",
    ["call +7 900 555-01-23 now", "phone 89005550123", "Bearer rfg_abcdef123", "pin=1357"],
)
def test_secrets_are_masked(message):
    assert "[redacted]" in redact(message)


@pytest.mark.parametrize(
    "message", ["retry at 2026-03-10", "took 1500 ms", "job 2026-03-10 12:00:01 done", "seq 123456"]
)
def test_dates_and_small_numbers_are_kept(message):
    assert redact(message) == message


def test_the_filter_rewrites_the_record():
    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "phone %s", ("+7 900 555-01-23",), None
    )
    RedactingFilter().filter(record)
    assert record.getMessage() == "phone [redacted]"
