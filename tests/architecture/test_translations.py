"""English and Russian are complete: every visible template text goes through gettext, the
Russian catalogue has every string, and the compiled catalogue matches it."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "refuge"
PO = SRC / "locale" / "ru" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")
# Text that is the same in every language (the product's name, separators).
LANGUAGE_NEUTRAL = {"Refuge", "·", "—", "…", "|", "/", "×", "→", ":", "(", ")", "%", "K-", "+"}
_STRIP = [
    re.compile(r"{#.*?#}", re.DOTALL),
    re.compile(r"{%\s*comment\s*%}.*?{%\s*endcomment\s*%}", re.DOTALL),
    re.compile(r"<!--.*?-->", re.DOTALL),
    re.compile(r"{%\s*blocktrans(?:late)?\b.*?{%\s*endblocktrans(?:late)?\s*%}", re.DOTALL),
    re.compile(r"<(script|style)\b.*?</\1>", re.DOTALL),
    re.compile(r"{%.*?%}", re.DOTALL),
    re.compile(r"{{.*?}}", re.DOTALL),
    re.compile(r"<[^>]*>", re.DOTALL),
    re.compile(r"&[a-z]+;|&#\d+;"),
]
_TEXT_ATTRIBUTE = re.compile(r'\b(?:placeholder|aria-label|title|alt)="([^"{]*[A-Za-z][^"{]*)"')


def untranslated_literals(template: str) -> list[str]:
    found = [f"attribute {m.group(0)}" for m in _TEXT_ATTRIBUTE.finditer(template)]
    text = template
    for pattern in _STRIP:
        text = pattern.sub(" ", text)
    for token in re.split(r"\s{2,}|\n", text):
        words = [w for w in token.split() if w not in LANGUAGE_NEUTRAL]
        if any(re.search(r"[A-Za-zА-Яа-я]", w) for w in words):
            found.append(token.strip())
    return found


def test_the_checker_finds_a_literal():
    assert untranslated_literals("<p>Hello {{ name }}</p>") == ["Hello"]
    assert untranslated_literals('<input placeholder="Search">') == [
        'attribute placeholder="Search"'
    ]
    assert untranslated_literals("<p>{% translate 'Hello' %} · Refuge</p>") == []


def test_templates_have_no_untranslated_text():
    findings = []
    for path in sorted(SRC.rglob("templates/**/*.html")):
        if path.name == "500.html":
            continue  # rendered without a request or translations when everything else failed
        findings.extend(
            f"{path.relative_to(SRC)}: {t!r}" for t in untranslated_literals(path.read_text())
        )
    assert not findings, "\n".join(findings)


def test_the_russian_catalogue_is_complete():
    catalogue = polib.pofile(str(PO))
    missing = [e.msgid for e in catalogue.untranslated_entries()]
    fuzzy = [e.msgid for e in catalogue.fuzzy_entries()]
    assert not missing, f"untranslated: {missing[:20]}"
    assert not fuzzy, f"fuzzy: {fuzzy[:20]}"


def test_the_compiled_catalogue_matches_the_source():
    assert MO.exists(), "run `make messages` (or msgfmt) to compile django.mo"
    compiled = {
        (e.msgctxt, e.msgid): (e.msgstr, tuple(sorted(e.msgstr_plural.items())))
        for e in polib.mofile(str(MO))
    }
    source = {
        (e.msgctxt, e.msgid): (e.msgstr, tuple(sorted(e.msgstr_plural.items())))
        for e in polib.pofile(str(PO)).translated_entries()
    }
    assert compiled == source, "run `make messages` (or msgfmt) to recompile django.mo"


def test_every_string_in_the_code_is_in_the_catalogue(tmp_path):
    if shutil.which("xgettext") is None:
        pytest.fail("GNU gettext (xgettext) is needed to extract strings: apt-get install gettext")
    copy = tmp_path / "refuge"
    shutil.copytree(SRC, copy, ignore=shutil.ignore_patterns("__pycache__", "*.mo"))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "django",
            "makemessages",
            "-l",
            "ru",
            "--no-location",
            "--no-obsolete",
        ],
        cwd=copy,
        check=True,
        capture_output=True,
        env={"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": ""},
    )
    extracted = {
        (e.msgctxt, e.msgid) for e in polib.pofile(str(copy / "locale/ru/LC_MESSAGES/django.po"))
    }
    committed = {(e.msgctxt, e.msgid) for e in polib.pofile(str(PO))}
    new = sorted(m for _c, m in extracted - committed)
    assert not new, f"strings missing from the catalogue (run `make messages`): {new[:20]}"
