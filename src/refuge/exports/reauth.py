"""The one place that decides how the exports ask for a recent re-authentication (step-up,
ASVS 7.5.3, built in refuge.accounts.stepup): approving an unredacted export and downloading
one. A passkey is asked for, because this is the most data one person can take out at once;
demo mode accepts TOTP instead (accounts.stepup.passkey_relaxed). An API token can never do
either: it cannot re-authenticate.

The interfaces call these *after* fetching the request through access, so someone who may not
see it gets the same 404 as for a request that does not exist, never a step-up prompt.
"""

from __future__ import annotations

from collections.abc import Collection

from django.http import HttpRequest, HttpResponse

from refuge.accounts.stepup import api_require_step_up, has_recent_step_up, step_up_redirect

PASSKEY = True


def web_step_up_redirect(
    request: HttpRequest, *, resume_fields: Collection[str] = ()
) -> HttpResponse | None:
    """None when the session re-authenticated recently; otherwise the way to do it, after
    which the refused POST resumes with `resume_fields` (the view is wrapped in
    accounts.stepup.resumes_after_step_up), so the button need not be pressed twice."""
    if has_recent_step_up(request, passkey=PASSKEY):
        return None
    return step_up_redirect(request, passkey=PASSKEY, resume_fields=resume_fields)


def api_step_up(request: HttpRequest) -> None:
    """Raises accounts.stepup.StepUpRequiredError (answered 403 by config.api)."""
    api_require_step_up(request, passkey=PASSKEY)
