"""Russian: "7 дек. 2026, 09:15". The abbreviated months (format character N) are CLDR's
("янв.", "февр.", "мая", "сент.", "дек."): refuge.core.formatting marks them for translation,
so Refuge's catalogue replaces Django's capitalised "Дек." with them."""

DATE_FORMAT = "j N Y"
SHORT_DATE_FORMAT = "j N Y"
TIME_FORMAT = "H:i"
DATETIME_FORMAT = "j N Y, H:i"
SHORT_DATETIME_FORMAT = "j N Y, H:i"
YEAR_MONTH_FORMAT = "F Y"
MONTH_DAY_FORMAT = "j E"
FIRST_DAY_OF_WEEK = 1  # Monday

# Refuge's own names (refuge.core.formatting).
DATETIME_SECONDS_FORMAT = "j N Y, H:i:s"
WEEKDAY_DATETIME_FORMAT = "l, j E Y, H:i"
# A day without its year, with the weekday: "вторник, 8 декабря".
WEEKDAY_DATE_FORMAT = "l, j E"
