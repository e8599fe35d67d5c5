"""An analyst registers a passkey (a virtual authenticator in Chromium) and logs in with it."""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import log_in

pytestmark = pytest.mark.browser


def test_analyst_registers_a_passkey_and_logs_in_with_it(live_refuge, browser):
    # Passkeys are bound to a domain: the same server, reached as localhost.
    base = live_refuge.replace("127.0.0.1", "localhost")
    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "usb",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
            }
        },
    )
    log_in(page, base, "analyst")
    page.wait_for_url(re.compile(r"/$"))

    page.goto(f"{base}/accounts/security/")
    with page.expect_response(lambda r: "/passkeys/registration/complete/" in r.url) as done:
        page.click("#passkey-register-button")
    assert done.value.status == 200
    page.goto(f"{base}/accounts/security/")
    assert page.locator("main table tbody tr", has_text="Passkey").count() == 1

    page.click("header form button:text('Log out')")
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=username]", "analyst")
    page.fill("input[name=password]", "refuge-demo")
    page.click("main form button[type=submit]")
    page.wait_for_url(re.compile(r"/accounts/second-factor/"))
    page.click("#passkey-verification-button")
    page.wait_for_url(re.compile(r"/$"))
    assert "analyst" in page.inner_text("header")
    context.close()
