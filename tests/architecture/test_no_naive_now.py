"""The wall clock is read in refuge.core.clock only, so tests can move time and every timestamp
is aware."""

from __future__ import annotations

from tests.architecture.rules import CLOCK, SRC, clock_reads, display, python_files

BAD_SOURCE = """
import datetime
import datetime as dt
from datetime import date, datetime as DateTime
from django.utils import timezone
from django.utils import timezone as tz
from django.utils.timezone import now

a = datetime.datetime.now()
b = dt.datetime.utcnow()
c = DateTime.today()
d = timezone.now()
e = date.today()
f = dt.date.today()
g = tz.now()
h = now()
"""

GOOD_SOURCE = """
from refuge.core import clock
from django.utils import timezone

a = clock.now()
b = clock.today()
c = timezone.localtime(a)
default = timezone.now  # a reference, as in a model field default, is not a read
text = "datetime.now() in a string is not code"
"""


def test_no_clock_reads_outside_core_clock() -> None:
    problems = [
        str(violation)
        for path in python_files(SRC, include_migrations=True)
        if path != CLOCK
        for violation in clock_reads(path.read_text("utf-8"), display(path))
    ]
    assert not problems, "use refuge.core.clock instead:\n" + "\n".join(problems)


def test_core_clock_is_where_the_clock_is_read() -> None:
    assert clock_reads(CLOCK.read_text("utf-8"), display(CLOCK)), "the checker misses clock.py"


def test_the_checker_reports_every_form_of_clock_read() -> None:
    found = clock_reads(BAD_SOURCE, "bad.py")
    assert [(v.line, v.text) for v in found] == [
        (7, "imports django.utils.timezone.now"),
        (9, "datetime.now()"),
        (10, "datetime.utcnow()"),
        (11, "datetime.today()"),
        (12, "timezone.now()"),
        (13, "date.today()"),
        (14, "date.today()"),
        (15, "timezone.now()"),
    ]
    assert str(found[0]) == "bad.py:7: imports django.utils.timezone.now"


def test_the_checker_accepts_the_clock_module_and_references() -> None:
    assert clock_reads(GOOD_SOURCE, "good.py") == []
