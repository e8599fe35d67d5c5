from django.urls import path

from refuge.exports import views

app_name = "exports"

urlpatterns = [
    path("", views.export_list, name="export_list"),
    path("redacted/", views.redacted_download, name="redacted_download"),
    path("requests/", views.request_create, name="request_create"),
    path("requests/<uuid:export_id>/approve/", views.request_approve, name="request_approve"),
    path("requests/<uuid:export_id>/reject/", views.request_reject, name="request_reject"),
    path("requests/<uuid:export_id>/download/", views.request_download, name="request_download"),
]
