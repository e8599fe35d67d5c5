from django.urls import path

from refuge.accounts import views

app_name = "accounts"

urlpatterns = [
    path("login/", views.RefugeLoginView.as_view(), name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("me/", views.my_settings, name="my_settings"),
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
