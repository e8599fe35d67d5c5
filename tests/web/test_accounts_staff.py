"""The staff pages: administrators manage accounts, coordinators manage teams. Other roles get
403 with an explanation on the lists and forms, and 404 on a page about one account or team."""

import pytest
from django.urls import reverse

from refuge.accounts.models import Role, TeamMembership, User
from refuge.security.models import AuditEntry
from tests.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db
NEW_PASSWORD = "a long and unusual passphrase 42"


def team_of(cast):
    return cast.case.team


@pytest.mark.parametrize("role", ["operator", "caseworker", "lawyer", "analyst", "outsider"])
@pytest.mark.parametrize("page", ["user_list", "user_create", "team_list", "team_create"])
def test_staff_pages_are_403_for_roles_other_than_admin_and_coordinator(cast, login, role, page):
    response = login(cast.by_role()[role]).get(reverse(f"accounts:{page}"))
    assert response.status_code == 403
    assert "Not available for your role" in response.content.decode()


@pytest.mark.parametrize("role", ["operator", "caseworker", "lawyer", "analyst"])
def test_team_page_is_404_for_roles_other_than_admin_and_coordinator(cast, login, role):
    url = reverse("accounts:team_detail", args=[team_of(cast).pk])
    assert login(cast.by_role()[role]).get(url).status_code == 404


def test_admin_sees_the_staff_list_with_edit_links(cast, login):
    response = login(cast.admin).get(reverse("accounts:user_list"))
    assert response.status_code == 200
    assert reverse("accounts:user_edit", args=[cast.lawyer.pk]) in response.content.decode()


def test_coordinator_sees_the_staff_list_without_edit_links(cast, login):
    response = login(cast.coordinator).get(reverse("accounts:user_list"))
    body = response.content.decode()
    assert response.status_code == 200
    assert "lawyer" in body
    assert reverse("accounts:user_edit", args=[cast.lawyer.pk]) not in body


def test_coordinator_gets_403_on_account_creation(cast, login):
    response = login(cast.coordinator).get(reverse("accounts:user_create"))
    assert response.status_code == 403
    assert "Creating staff accounts is for administrators." in response.content.decode()


def test_admin_creates_an_account(cast, login):
    response = login(cast.admin).post(
        reverse("accounts:user_create"),
        {
            "username": "newlawyer",
            "role": Role.LAWYER,
            "language": "ru",
            "password": NEW_PASSWORD,
            "password_again": NEW_PASSWORD,
        },
    )
    user = User.objects.get(username="newlawyer")
    assert response.status_code == 302
    assert user.check_password(NEW_PASSWORD)
    assert AuditEntry.objects.filter(
        action="refuge.accounts.user.created", actor_id=cast.admin.pk, object_id=str(user.pk)
    ).exists()


def test_account_creation_with_differing_passwords_returns_400(cast, login):
    response = login(cast.admin).post(
        reverse("accounts:user_create"),
        {
            "username": "newlawyer",
            "role": Role.LAWYER,
            "language": "en",
            "password": NEW_PASSWORD,
            "password_again": NEW_PASSWORD + "x",
        },
    )
    assert response.status_code == 400
    assert not User.objects.filter(username="newlawyer").exists()


def test_account_creation_with_a_weak_password_shows_the_error_inline(cast, login):
    response = login(cast.admin).post(
        reverse("accounts:user_create"),
        {
            "username": "newlawyer",
            "role": Role.LAWYER,
            "language": "en",
            "password": "short",
            "password_again": "short",
        },
    )
    assert response.status_code == 400
    assert response.context["form"].errors["password"]


def test_admin_deactivates_an_account(cast, login):
    response = login(cast.admin).post(
        reverse("accounts:user_edit", args=[cast.lawyer.pk]),
        {"form": "account", "role": Role.LAWYER, "language": "en"},
    )
    assert response.status_code == 302
    assert not User.objects.get(pk=cast.lawyer.pk).is_active


def test_admin_sets_a_new_password(cast, login):
    login(cast.admin).post(
        reverse("accounts:user_edit", args=[cast.lawyer.pk]),
        {"form": "password", "password": NEW_PASSWORD, "password_again": NEW_PASSWORD},
    )
    assert User.objects.get(pk=cast.lawyer.pk).check_password(NEW_PASSWORD)


def test_coordinator_gets_404_on_editing_an_account(cast, login):
    url = reverse("accounts:user_edit", args=[cast.lawyer.pk])
    assert login(cast.coordinator).get(url).status_code == 404


def test_coordinator_creates_a_team(cast, login):
    response = login(cast.coordinator).post(reverse("accounts:team_create"), {"name": "Kazan"})
    assert response.status_code == 302
    assert AuditEntry.objects.filter(action="refuge.accounts.team.created").exists()


def test_team_with_a_taken_name_returns_400(cast, login):
    response = login(cast.coordinator).post(
        reverse("accounts:team_create"), {"name": "nizhny TEAM"}
    )
    assert response.status_code == 400
    assert response.context["form"].errors["name"]


def test_admin_gets_403_on_team_creation(cast, login):
    response = login(cast.admin).get(reverse("accounts:team_create"))
    assert response.status_code == 403
    assert "Creating teams is for coordinators." in response.content.decode()


def test_admin_sees_a_team_without_the_member_forms(cast, login):
    response = login(cast.admin).get(reverse("accounts:team_detail", args=[team_of(cast).pk]))
    assert response.status_code == 200
    assert reverse("accounts:team_member_add", args=[team_of(cast).pk]) not in (
        response.content.decode()
    )


def test_coordinator_adds_a_member_as_team_lead(cast, login):
    team = TeamFactory(name="Kazan")
    response = login(cast.coordinator).post(
        reverse("accounts:team_member_add", args=[team.pk]),
        {"user": cast.analyst.pk, "is_lead": "on"},
    )
    assert response.status_code == 302
    assert TeamMembership.objects.get(team=team, user=cast.analyst).is_lead


def test_adding_an_administrator_to_a_team_returns_400(cast, login):
    team = TeamFactory(name="Kazan")
    response = login(cast.coordinator).post(
        reverse("accounts:team_member_add", args=[team.pk]), {"user": cast.admin.pk}
    )
    assert response.status_code == 400
    assert not TeamMembership.objects.filter(team=team).exists()


def test_admin_gets_404_on_adding_a_team_member(cast, login):
    team = TeamFactory(name="Kazan")
    response = login(cast.admin).post(
        reverse("accounts:team_member_add", args=[team.pk]), {"user": cast.analyst.pk}
    )
    assert response.status_code == 404


def test_coordinator_removes_a_member(cast, login):
    url = reverse("accounts:team_member_remove", args=[team_of(cast).pk, cast.lawyer.pk])
    response = login(cast.coordinator).post(url)
    assert response.status_code == 302
    assert not TeamMembership.objects.filter(team=team_of(cast), user=cast.lawyer).exists()


def test_coordinator_makes_a_member_team_lead(cast, login):
    url = reverse("accounts:team_member_lead", args=[team_of(cast).pk, cast.lawyer.pk])
    login(cast.coordinator).post(url, {"is_lead": "1"})
    assert TeamMembership.objects.get(team=team_of(cast), user=cast.lawyer).is_lead


def test_removed_member_loses_sight_of_falcon_at_the_next_request(cast, login):
    client = login(cast.coordinator)
    client.post(reverse("accounts:team_member_remove", args=[team_of(cast).pk, cast.lawyer.pk]))
    lawyer_client = login(cast.lawyer)
    response = lawyer_client.get(reverse("people:detail", args=[cast.falcon.pk]))
    assert response.status_code == 404


def test_member_action_on_someone_not_on_the_team_shows_an_error(cast, login):
    stranger = UserFactory(username="stranger", role=Role.LAWYER)
    url = reverse("accounts:team_member_remove", args=[team_of(cast).pk, stranger.pk])
    response = login(cast.coordinator).post(url, follow=True)
    assert "not on the team" in response.content.decode()


def test_admin_opens_the_account_edit_page(cast, login):
    response = login(cast.admin).get(reverse("accounts:user_edit", args=[cast.lawyer.pk]))
    assert response.status_code == 200
    assert response.context["account_form"].initial["role"] == Role.LAWYER


def test_coordinator_sees_the_teams_with_their_members(cast, login):
    response = login(cast.coordinator).get(reverse("accounts:team_list"))
    body = response.content.decode()
    assert "Nizhny team" in body
    assert "caseworker" in body


def test_coordinator_sees_the_member_forms_on_a_team_page(cast, login):
    team = team_of(cast)
    response = login(cast.coordinator).get(reverse("accounts:team_detail", args=[team.pk]))
    assert reverse("accounts:team_member_add", args=[team.pk]) in response.content.decode()
    assert cast.admin not in response.context["form"].fields["user"].queryset


def test_coordinator_opens_the_new_team_page(cast, login):
    assert login(cast.coordinator).get(reverse("accounts:team_create")).status_code == 200
