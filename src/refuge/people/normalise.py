"""Normalisers for the blind indexes: the same person written two ways gives the same string.

Phones become E.164 (`+79005550123`). Russian numbers are recognised in their usual domestic and
international spellings (`+7 …`, `8 …`, `007 …`, `7XXXXXXXXXX`, and a bare ten-digit number
starting with 9, a mobile number without its prefix). Other numbers keep their `+` and digits.

Legal names become NFKC, casefolded, Cyrillic transliterated with the ICAO Doc 9303 table (the one
Russian international passports use, so "Рустам Тестаев" and the passport's "Rustam Testaev"
match), punctuation dropped, words sorted. Sorting makes "Testaev Rustam Zaurbekovich" (the
Russian document order) match "Rustam Zaurbekovich Testaev"; it is still an exact match of the
whole name, never of a part. Latin spellings outside the table ("Yusupov" for "Юсупов", which the
table writes "iusupov") do not match: the index is exact by design.
"""

from __future__ import annotations

import re
import unicodedata

# ICAO Doc 9303 (2015) transliteration of Russian, the table of Russian international passports.
_CYRILLIC = {
    "а": "a",
    "б": "b",
    "в": "v",
    "г": "g",
    "д": "d",
    "е": "e",
    "ё": "e",
    "ж": "zh",
    "з": "z",
    "и": "i",
    "й": "i",
    "к": "k",
    "л": "l",
    "м": "m",
    "н": "n",
    "о": "o",
    "п": "p",
    "р": "r",
    "с": "s",
    "т": "t",
    "у": "u",
    "ф": "f",
    "х": "kh",
    "ц": "ts",
    "ч": "ch",
    "ш": "sh",
    "щ": "shch",
    "ъ": "ie",
    "ы": "y",
    "ь": "",
    "э": "e",
    "ю": "iu",
    "я": "ia",
    "ӏ": "",  # Chechen palochka (casefolded)
}
_TRANSLIT = str.maketrans(_CYRILLIC)
_APOSTROPHES = str.maketrans(dict.fromkeys("'`\u2019\u02bc", ""))
_NOT_WORD = re.compile(r"[^0-9a-z\u00c0-\u024f\u0370-\u03ff\u0400-\u04ff]+")
_RU_NATIONAL_DIGITS = 10
_RU_WITH_TRUNK = 11
MIN_PHONE_DIGITS = 5
MAX_INPUT = 200


def phone(value: str) -> str:
    """E.164 form of one phone number, or "" when it holds too few digits to be one."""
    text = unicodedata.normalize("NFKC", value[:MAX_INPUT]).strip()
    digits = "".join(ch for ch in text if ch.isascii() and ch.isdigit())
    international = text.startswith("+")
    if not international and digits.startswith("00"):
        digits, international = digits[2:], True
    if len(digits) < MIN_PHONE_DIGITS:
        return ""
    if international:
        return "+" + digits
    if len(digits) == _RU_WITH_TRUNK and digits[0] in "78":
        return "+7" + digits[1:]
    if len(digits) == _RU_NATIONAL_DIGITS and digits[0] == "9":
        return "+7" + digits
    return digits


def phones(value: str | None) -> list[str]:
    """The distinct normalised numbers of a multi-line phones field, in order."""
    found = (phone(line) for line in (value or "").splitlines())
    return list(dict.fromkeys(number for number in found if number))


def legal_name(value: str | None) -> str:
    """casefold(NFKC(name)), Cyrillic transliterated, punctuation dropped, words sorted."""
    text = unicodedata.normalize("NFKC", (value or "")[:MAX_INPUT]).casefold()
    text = text.translate(_APOSTROPHES).translate(_TRANSLIT)
    return " ".join(sorted(_NOT_WORD.sub(" ", text).split()))
