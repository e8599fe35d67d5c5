from django.urls import path

from refuge.people import views, views_contacts

app_name = "people"

urlpatterns = [
    path("", views.person_list, name="list"),
    path("new/", views.person_create, name="create"),
    path("search/", views.person_search, name="search"),
    path("<uuid:person_id>/", views.person_detail, name="detail"),
    path("<uuid:person_id>/edit/", views.person_edit, name="edit"),
    path("<uuid:person_id>/relatives/new/", views.relative_add, name="relative_add"),
    path("relatives/<uuid:relative_id>/edit/", views.relative_edit, name="relative_edit"),
    path("relatives/<uuid:relative_id>/remove/", views.relative_remove, name="relative_remove"),
    path(
        "relatives/<uuid:relative_id>/contacts/new/",
        views_contacts.relative_contact_add,
        name="relative_contact_add",
    ),
    path(
        "contacts/<uuid:contact_id>/followed-up/",
        views_contacts.relative_contact_follow_up,
        name="relative_contact_follow_up",
    ),
]
