"""The time a call came in, as the operator enters it.

By default a call is logged while the caller is still on the line, so its time is the moment of
submitting. An operator who writes a call down afterwards enters when it came in: that time must
not be in the future (beyond a small allowance for clocks that disagree, which is clamped to now)
and not absurdly old, which almost always means a mistyped date.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from django.utils.translation import gettext as _

from refuge.alerts.display import shown_time
from refuge.core import clock

# A call entered this long after it came in is refused: a mistyped date, not a late entry.
MAX_CALL_AGE = dt.timedelta(days=7)
# A browser clock slightly ahead of the server's: clamped to now instead of refused.
CLOCK_ALLOWANCE = dt.timedelta(minutes=2)


def call_time(
    value: dt.datetime | None, *, field: str, errors: dict[str, list[str]]
) -> dt.datetime:
    """The call's time: `value`, or now when it is None. Problems are added to `errors[field]`
    (the returned time is then now, and must not be used)."""
    now = clock.now()
    if value is None:
        return now
    if timezone.is_naive(value):
        errors.setdefault(field, []).append(_("Give the call's time with its time zone."))
        return now
    if value > now + CLOCK_ALLOWANCE:
        errors.setdefault(field, []).append(
            _("The call cannot have come in the future (it is %(now)s now).")
            % {"now": shown_time(now)}
        )
        return now
    if value < now - MAX_CALL_AGE:
        errors.setdefault(field, []).append(
            _(
                "A call can be entered up to %(days)d days after it came in; "
                "%(value)s is earlier. Check the date."
            )
            % {"days": MAX_CALL_AGE.days, "value": shown_time(value)}
        )
        return now
    return min(value, now)
