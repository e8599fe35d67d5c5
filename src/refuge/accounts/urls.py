from django.urls import path

from refuge.accounts import mfa_views, views, views_seal

app_name = "accounts"

urlpatterns = [
    path("login/", views.RefugeLoginView.as_view(), name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("me/", views.my_settings, name="my_settings"),
    path("second-factor/", mfa_views.second_factor, name="second_factor"),
    path("enrol/", mfa_views.enrol, name="enrol"),
    path("security/", mfa_views.security, name="security"),
    path("security/authenticator/", mfa_views.totp_enrol, name="totp_enrol"),
    path("security/authenticator/qr.png", mfa_views.totp_qr, name="totp_qr"),
    path("security/recovery-codes/", mfa_views.recovery_codes, name="recovery_codes"),
    path("security/remove/", mfa_views.device_remove, name="device_remove"),
    path("step-up/", mfa_views.step_up, name="step_up"),
    path("step-up/resume/<slug:nonce>/", mfa_views.step_up_resume, name="step_up_resume"),
    path("notices/", mfa_views.notice_list, name="notice_list"),
    path("seal/", views_seal.seal_status, name="seal_status"),
    path("seal/unseal/", views_seal.seal_unseal, name="seal_unseal"),
    path("seal/reset/", views_seal.seal_reset, name="seal_reset"),
    path("seal/now/", views_seal.seal_now, name="seal_now"),
    path("notices/seen/", mfa_views.notice_acknowledge, name="notice_acknowledge"),
    path("staff/", views.user_list, name="user_list"),
    path("staff/new/", views.user_create, name="user_create"),
    path("staff/<uuid:user_id>/edit/", views.user_edit, name="user_edit"),
    path("teams/", views.team_list, name="team_list"),
    path("teams/new/", views.team_create, name="team_create"),
    path("teams/<uuid:team_id>/", views.team_detail, name="team_detail"),
    path("teams/<uuid:team_id>/members/", views.team_member_add, name="team_member_add"),
    path(
        "teams/<uuid:team_id>/members/<uuid:user_id>/remove/",
        views.team_member_remove,
        name="team_member_remove",
    ),
    path(
        "teams/<uuid:team_id>/members/<uuid:user_id>/lead/",
        views.team_member_lead,
        name="team_member_lead",
    ),
]
