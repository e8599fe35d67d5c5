from django.urls import path

from refuge.cases import views, views_people

app_name = "cases"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("cases/", views.case_list, name="list"),
    path("cases/new/", views.case_create, name="create"),
    path("cases/<uuid:case_id>/", views.case_detail, name="detail"),
    path("cases/<uuid:case_id>/edit/", views.case_edit, name="edit"),
    path("cases/add-person/<uuid:person_id>/", views_people.case_add_person, name="add_person"),
    path("cases/<uuid:case_id>/timeline/", views.timeline_add, name="timeline_add"),
    path("cases/<uuid:case_id>/status/", views.case_status_change, name="status_change"),
    path("cases/<uuid:case_id>/tasks/", views.task_create, name="task_create"),
    path("cases/tasks/<uuid:task_id>/done/", views.task_complete, name="task_complete"),
    path("cases/tasks/<uuid:task_id>/reopen/", views.task_reopen, name="task_reopen"),
]
