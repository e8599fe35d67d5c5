"""Pages of the emergency line. Each group of views lives in its own module (views_<area>.py)."""

from django.urls import path

from refuge.alerts import views_calls as calls
from refuge.alerts import views_checkins as checkins
from refuge.alerts import views_emergencies as emergencies
from refuge.alerts import views_response as response
from refuge.alerts import views_setup as setup

app_name = "alerts"

# Who gets paged, and how: escalation policies, on-call rotas, staff notification channels.
setup_patterns = [
    path("setup/policies/", setup.policy_list, name="policy_list"),
    path("setup/policies/new/", setup.policy_create, name="policy_create"),
    path("setup/policies/<uuid:policy_id>/", setup.policy_detail, name="policy_detail"),
    path("setup/policies/<uuid:policy_id>/edit/", setup.policy_update, name="policy_update"),
    path("setup/policies/<uuid:policy_id>/delete/", setup.policy_delete, name="policy_delete"),
    path("setup/policies/<uuid:policy_id>/steps/", setup.step_add, name="step_add"),
    path("setup/steps/<uuid:step_id>/edit/", setup.step_edit, name="step_edit"),
    path("setup/steps/<uuid:step_id>/remove/", setup.step_remove, name="step_remove"),
    path("setup/steps/<uuid:step_id>/move/", setup.step_move, name="step_move"),
    path("setup/rotas/", setup.rota_list, name="rota_list"),
    path("setup/rotas/new/", setup.rota_create, name="rota_create"),
    path("setup/rotas/<uuid:rota_id>/", setup.rota_detail, name="rota_detail"),
    path("setup/rotas/<uuid:rota_id>/edit/", setup.rota_update, name="rota_update"),
    path("setup/rotas/<uuid:rota_id>/delete/", setup.rota_delete, name="rota_delete"),
    path("setup/rotas/<uuid:rota_id>/members/", setup.rota_member_add, name="rota_member_add"),
    path(
        "setup/rota-members/<uuid:member_id>/remove/",
        setup.rota_member_remove,
        name="rota_member_remove",
    ),
    path(
        "setup/rota-members/<uuid:member_id>/move/",
        setup.rota_member_move,
        name="rota_member_move",
    ),
    path(
        "setup/rotas/<uuid:rota_id>/overrides/",
        setup.rota_override_add,
        name="rota_override_add",
    ),
    path(
        "setup/overrides/<uuid:override_id>/remove/",
        setup.rota_override_remove,
        name="rota_override_remove",
    ),
    path("setup/channels/", setup.channel_list, name="channel_list"),
    path("setup/channels/new/", setup.channel_add, name="channel_add"),
    path("setup/channels/<uuid:channel_id>/edit/", setup.channel_edit, name="channel_edit"),
    path("setup/channels/<uuid:channel_id>/remove/", setup.channel_remove, name="channel_remove"),
    path("setup/channels/<uuid:channel_id>/move/", setup.channel_move, name="channel_move"),
    path("setup/staff/", setup.staff_channel_list, name="staff_channel_list"),
    path("setup/staff/<uuid:user_id>/channels/", setup.staff_channels, name="staff_channels"),
    path(
        "setup/staff/<uuid:user_id>/channels/new/",
        setup.staff_channel_add,
        name="staff_channel_add",
    ),
]

# The staff side of the emergency line: the board, calls, emergencies, the report, check-ins.
emergency_patterns = [
    path("", emergencies.board, name="board"),
    path("board/", emergencies.board_partial, name="board_partial"),
    path("call/", emergencies.call_create, name="emergency_call"),
    path("calls/", calls.call_list, name="call_list"),
    path("calls/<uuid:call_id>/", calls.call_detail, name="call_detail"),
    path("calls/<uuid:call_id>/escalate/", calls.call_escalate, name="call_escalate"),
    path("report/", emergencies.report, name="emergency_report"),
    path("e/<uuid:emergency_id>/", response.emergency_detail, name="emergency_detail"),
    path(
        "e/<uuid:emergency_id>/acknowledge/",
        response.emergency_acknowledge,
        name="emergency_acknowledge",
    ),
    path(
        "e/<uuid:emergency_id>/en-route/",
        response.emergency_en_route,
        name="emergency_en_route",
    ),
    path("e/<uuid:emergency_id>/on-site/", response.emergency_on_site, name="emergency_on_site"),
    path("e/<uuid:emergency_id>/resolve/", response.emergency_resolve, name="emergency_resolve"),
    path("e/<uuid:emergency_id>/notes/", response.emergency_note, name="emergency_note"),
    path(
        "e/<uuid:emergency_id>/times/",
        response.emergency_time_correct,
        name="emergency_time_correct",
    ),
    path("ack/<str:token>/", emergencies.ack_link, name="emergency_ack_link"),
    path("people/<uuid:person_id>/checkins/", checkins.person_checkins, name="person_checkins"),
    path(
        "people/<uuid:person_id>/checkins/schedule/",
        checkins.checkins_schedule_set,
        name="checkins_schedule_set",
    ),
    path("people/<uuid:person_id>/checkins/pause/", checkins.checkins_pause, name="checkins_pause"),
    path(
        "people/<uuid:person_id>/checkins/resume/", checkins.checkins_resume, name="checkins_resume"
    ),
    path(
        "people/<uuid:person_id>/checkins/pins/",
        checkins.checkins_pins_set,
        name="checkins_pins_set",
    ),
    path(
        "people/<uuid:person_id>/checkins/unlock/",
        checkins.checkins_unlock,
        name="checkins_unlock",
    ),
    path(
        "people/<uuid:person_id>/checkins/link/",
        checkins.checkins_link_issue,
        name="checkins_link_issue",
    ),
    path(
        "people/<uuid:person_id>/checkins/link/revoke/",
        checkins.checkins_link_revoke,
        name="checkins_link_revoke",
    ),
]

urlpatterns = [
    *setup_patterns,
    *emergency_patterns,
]
