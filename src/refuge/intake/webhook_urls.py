"""Inbound channels from machines, mounted at /intake/ (see refuge.config.urls)."""

from django.urls import path

from refuge.intake import views, views_telegram

app_name = "intake_hooks"

urlpatterns = [
    path("sms/", views.sms_webhook, name="sms"),
    path("telegram/", views_telegram.telegram_webhook_view, name="telegram"),
]
