"""Validation of identity values, shared by every interface through the services."""

from __future__ import annotations

import datetime as dt
import re

from django.utils.translation import gettext as _

from refuge.core import clock

PSEUDONYM_RE = re.compile(r"^[A-Z][A-Z0-9-]{1,39}$")
PHONE_RE = re.compile(r"^\+?[0-9][0-9 ()-]{4,24}$")
MAX_NAME = 200
MAX_LINE = 200
MAX_LINES = 10
MAX_ADDRESS = 1000
MAX_NOTES = 20_000
OLDEST_BIRTH_YEAR = 1900


def clean_text(value: str | None, *, limit: int, field: str, errors: dict[str, list[str]]) -> str:
    text = (value or "").strip()
    if "\x00" in text:
        errors.setdefault(field, []).append(_("This field contains a forbidden control character."))
    elif len(text) > limit:
        errors.setdefault(field, []).append(
            _("Keep this under %(limit)d characters (it has %(count)d).")
            % {"limit": limit, "count": len(text)}
        )
    return text


def clean_lines(value: str | None, *, field: str, errors: dict[str, list[str]], phone: bool) -> str:
    lines = [line.strip() for line in (value or "").splitlines() if line.strip()]
    if len(lines) > MAX_LINES:
        errors.setdefault(field, []).append(
            _("At most %(n)d entries, one per line.") % {"n": MAX_LINES}
        )
    for line in lines:
        if len(line) > MAX_LINE or "\x00" in line:
            errors.setdefault(field, []).append(_("One of the entries is too long or malformed."))
            break
        if phone and not PHONE_RE.match(line):
            errors.setdefault(field, []).append(
                _(
                    "“%(value)s” is not a phone number: use digits, spaces, brackets, "
                    "dashes and an optional leading +."
                )
                % {"value": line[:40]}
            )
            break
    return "\n".join(lines)


def clean_birth_date(value: dt.date | None, *, errors: dict[str, list[str]]) -> dt.date | None:
    if value is None:
        return None
    if value > clock.today():
        errors.setdefault("date_of_birth", []).append(_("The date of birth is in the future."))
    elif value.year < OLDEST_BIRTH_YEAR:
        errors.setdefault("date_of_birth", []).append(
            _("The date of birth is too far in the past.")
        )
    return value


def is_minor(date_of_birth: dt.date | None, *, today: dt.date | None = None) -> bool:
    if date_of_birth is None:
        return False
    today = today or clock.today()
    try:
        adult_on = date_of_birth.replace(year=date_of_birth.year + 18)
    except ValueError:  # born on 29 February
        adult_on = date_of_birth.replace(year=date_of_birth.year + 18, day=28)
    return today < adult_on
