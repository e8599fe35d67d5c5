from django.urls import path

from refuge.people import views

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
]
