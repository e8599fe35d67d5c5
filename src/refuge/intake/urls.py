"""The protected person's own page, mounted at /c/ (see refuge.config.urls)."""

from django.urls import path

from refuge.intake import views

app_name = "intake"

urlpatterns = [
    path("<str:token>/", views.person_page, name="person_page"),
]
