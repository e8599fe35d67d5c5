from django.urls import path

from refuge.evidence import views

app_name = "evidence"

urlpatterns = [
    path("cases/<uuid:case_id>/upload/", views.evidence_upload, name="upload"),
    path("<uuid:evidence_id>/", views.evidence_detail, name="detail"),
    path("<uuid:evidence_id>/download/", views.evidence_download, name="download"),
]
