"""Refuge's date and time formats, one unambiguous set per language (FORMAT_MODULE_PATH).

Django's own locale formats still supply everything not set here (input formats, number
separators). The extra names beyond Django's (DATETIME_SECONDS_FORMAT, WEEKDAY_DATETIME_FORMAT,
UNTIL_DATE_FORMAT) are read by refuge.core.formatting.
"""
