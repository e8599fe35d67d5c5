"""English: day, abbreviated month, year and a 24-hour clock ("7 Dec 2026, 09:15"), never the
month-first "12/10/2026" that readers outside the US take for 12 October."""

DATE_FORMAT = "j M Y"
SHORT_DATE_FORMAT = "j M Y"
TIME_FORMAT = "H:i"
DATETIME_FORMAT = "j M Y, H:i"
SHORT_DATETIME_FORMAT = "j M Y, H:i"
YEAR_MONTH_FORMAT = "F Y"
MONTH_DAY_FORMAT = "j F"
FIRST_DAY_OF_WEEK = 1  # Monday

# Refuge's own names (refuge.core.formatting).
DATETIME_SECONDS_FORMAT = "j M Y, H:i:s"
WEEKDAY_DATETIME_FORMAT = "l, j F Y, H:i"
# A day without its year, with the weekday: "Tuesday, 8 December".
WEEKDAY_DATE_FORMAT = "l, j F"
