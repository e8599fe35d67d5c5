from django.urls import include, path
from django.views.i18n import set_language

from refuge.config.admin import site as admin_site
from refuge.config.api import api

# A form post over the size limit gets a page that says so (refuge.core.views).
handler400 = "refuge.core.views.bad_request"

urlpatterns = [
    # The protected person's own page and the inbound channels: before everything else.
    path("c/", include("refuge.intake.urls")),
    path("intake/", include("refuge.intake.webhook_urls")),
    path("", include("refuge.cases.urls")),
    path("accounts/", include("refuge.accounts.urls")),
    path("accounts/passkeys/", include("refuge.accounts.webauthn")),
    path("people/", include("refuge.people.urls")),
    path("evidence/", include("refuge.evidence.urls")),
    path("alerts/", include("refuge.alerts.urls")),
    path("exports/", include("refuge.exports.urls")),
    path("i18n/setlang/", set_language, name="set_language"),
    path("api/v1/", api.urls),
    path("admin/", admin_site.urls),
]
