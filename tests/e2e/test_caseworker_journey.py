"""A case worker logs in, finds FALCON, opens his case, adds a note, switches to Russian."""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import demo_code, log_in

pytestmark = pytest.mark.browser


def test_caseworker_adds_a_note_and_reads_it_in_russian(live_refuge, browser):
    page = browser.new_page(locale="en-GB")
    log_in(page, live_refuge, "caseworker")
    page.wait_for_url(re.compile(r"/$"))

    page.click("header nav >> text=People")
    page.fill("input[name=q]", "FALCON")
    page.press("input[name=q]", "Enter")
    page.click("main >> a:text-is('FALCON')")
    assert "Rustam Zaurbekovich Testaev" not in page.inner_text("main")
    # Revealing the identity needs a fresh confirmation (demo mode: password and code).
    page.click("main >> text=Reveal identity")
    page.fill("input[name=password]", "refuge-demo")
    page.fill("input[name=code]", demo_code("caseworker"))
    page.click("form:has(input[name=code]) >> button[type=submit]")
    page.wait_for_selector("text=Rustam Zaurbekovich Testaev")

    page.click("main >> a[href*='/cases/?q=FALCON']")
    page.click("main tr:has-text('Evacuation') >> a[href*='/cases/']")
    note = "Safe flat checked, all calm"
    page.fill("textarea[name=text]", note)
    page.click("form:has(textarea[name=text]) >> button[type=submit]")
    page.wait_for_selector(f"text={note}")

    page.click("header summary.who")  # the account menu holds the language switch
    page.click("header >> button[value=ru]")
    page.wait_for_selector("html[lang=ru]")
    assert note in page.inner_text("main")
    assert "Выйти" in page.inner_text("header")
    page.close()
