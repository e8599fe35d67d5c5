"""On a phone (360×640) the page starts in the top half of the first screen, the account menu
folds and unfolds without JavaScript, and a failed htmx post is explained above its form with
the text still in it."""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import log_in

pytestmark = pytest.mark.browser

PHONE = {"width": 360, "height": 640}


def test_a_phone_sees_the_page_in_the_top_half_and_the_menu_works_without_javascript(
    live_refuge, browser
):
    context = browser.new_context(viewport=PHONE, java_script_enabled=False, locale="en-GB")
    page = context.new_page()
    log_in(page, live_refuge, "coordinator")
    page.wait_for_url(re.compile(r"/$"))

    assert page.evaluate("document.getElementById('main').getBoundingClientRect().top") < 320
    assert not page.is_visible("header >> text=Account security")
    page.click("header summary.who")
    assert page.is_visible("header >> text=Account security")
    context.close()


def test_a_note_too_large_to_send_is_explained_and_kept(live_refuge, browser):
    page = browser.new_page(viewport=PHONE, locale="en-GB")
    log_in(page, live_refuge, "lawyer")
    page.wait_for_url(re.compile(r"/$"))
    page.click("main table >> a[href*='/cases/'] >> nth=0")
    page.wait_for_selector("textarea[name=text]")
    # Over the 1 MB request limit: the server cannot even read it (413).
    page.eval_on_selector("textarea[name=text]", "area => { area.value = 'x'.repeat(1100000); }")
    page.click("form:has(textarea[name=text]) >> button[type=submit]")

    page.wait_for_selector("form:has(textarea[name=text]) >> .request-error")
    message = page.inner_text("form:has(textarea[name=text]) >> .request-error")
    assert "too large" in message
    assert page.eval_on_selector("textarea[name=text]", "area => area.value.length") == 1100000
    page.close()
