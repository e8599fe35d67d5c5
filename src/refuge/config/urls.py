from django.urls import include, path
from django.views.i18n import set_language

from refuge.config.admin import site as admin_site
from refuge.config.api import api

urlpatterns = [
    path("", include("refuge.cases.urls")),
    path("accounts/", include("refuge.accounts.urls")),
    path("people/", include("refuge.people.urls")),
    path("i18n/setlang/", set_language, name="set_language"),
    path("api/v1/", api.urls),
    path("admin/", admin_site.urls),
]
