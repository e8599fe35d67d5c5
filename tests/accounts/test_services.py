"""Account and team services: who may call them, what they refuse, what they audit."""

import pytest

from refuge.accounts import services
from refuge.accounts.models import Role, TeamMembership, User
from refuge.core.errors import DomainError
from refuge.security.models import AuditEntry
from tests.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db
STRONG = "a long and unusual passphrase 42"


@pytest.fixture
def admin():
    return UserFactory(username="admin", role=Role.ADMIN)


@pytest.fixture
def coordinator():
    return UserFactory(username="coordinator", role=Role.COORDINATOR)


def create(actor, **overrides):
    values = {"username": "newlawyer", "role": Role.LAWYER, "password": STRONG, "language": "en"}
    return services.user_create(actor=actor, **{**values, **overrides})


def field_errors(call):
    with pytest.raises(DomainError) as caught:
        call()
    return caught.value.field_errors


def test_admin_creates_an_account_with_a_hashed_password(admin):
    user = create(admin)
    assert user.check_password(STRONG)
    assert STRONG not in user.password


def test_account_creation_is_audited_without_the_password(admin):
    user = create(admin)
    entry = AuditEntry.objects.get(action="refuge.accounts.user.created")
    assert entry.actor_id == admin.pk
    assert entry.object_id == str(user.pk)
    assert STRONG not in entry.detail


def test_coordinator_cannot_create_accounts(coordinator):
    with pytest.raises(DomainError):
        create(coordinator)


def test_username_with_spaces_is_refused(admin):
    assert "username" in field_errors(lambda: create(admin, username="new lawyer"))


def test_username_taken_in_another_case_is_refused(admin):
    UserFactory(username="NewLawyer")
    assert "username" in field_errors(lambda: create(admin))


def test_unknown_role_is_refused(admin):
    assert "role" in field_errors(lambda: create(admin, role="superuser"))


def test_unknown_language_is_refused(admin):
    assert "language" in field_errors(lambda: create(admin, language="de"))


def test_short_password_is_refused(admin):
    assert "password" in field_errors(lambda: create(admin, password="short"))


def test_password_like_the_username_is_refused(admin):
    assert "password" in field_errors(
        lambda: create(admin, username="kestrel-lawyer-2024", password="kestrel-lawyer-2024")
    )


def test_refused_account_is_not_created(admin):
    with pytest.raises(DomainError):
        create(admin, password="short")
    assert not User.objects.filter(username="newlawyer").exists()


def test_all_errors_are_reported_at_once(admin):
    errors = field_errors(lambda: create(admin, username="?", role="x", password=""))
    assert set(errors) == {"username", "role", "password"}


def test_admin_changes_a_role_and_the_audit_names_the_field(admin):
    user = create(admin)
    services.user_update(actor=admin, user=user, role=Role.CASEWORKER)
    entry = AuditEntry.objects.get(action="refuge.accounts.user.updated")
    assert '"fields":["role"]' in entry.detail
    assert User.objects.get(pk=user.pk).role == Role.CASEWORKER


def test_update_without_changes_writes_no_audit_entry(admin):
    user = create(admin)
    services.user_update(actor=admin, user=user, role=Role.LAWYER, language="en")
    assert not AuditEntry.objects.filter(action="refuge.accounts.user.updated").exists()


def test_admin_cannot_deactivate_their_own_account(admin):
    assert "is_active" in field_errors(
        lambda: services.user_update(actor=admin, user=admin, is_active=False)
    )


def test_admin_cannot_change_their_own_role(admin):
    assert "role" in field_errors(
        lambda: services.user_update(actor=admin, user=admin, role=Role.COORDINATOR)
    )


def test_new_password_is_validated(admin):
    user = create(admin)
    assert "password" in field_errors(
        lambda: services.user_set_password(actor=admin, user=user, password="123456789012")
    )


def test_new_password_is_set_and_audited(admin):
    user = create(admin)
    services.user_set_password(actor=admin, user=user, password=STRONG + "!")
    assert User.objects.get(pk=user.pk).check_password(STRONG + "!")
    assert AuditEntry.objects.filter(action="refuge.accounts.user.password_set").exists()


def test_coordinator_creates_a_team(coordinator):
    team = services.team_create(actor=coordinator, name="  Kazan   team ")
    assert team.name == "Kazan team"


def test_admin_cannot_manage_teams(admin):
    with pytest.raises(DomainError):
        services.team_create(actor=admin, name="Kazan")


def test_empty_team_name_is_refused(coordinator):
    assert "name" in field_errors(lambda: services.team_create(actor=coordinator, name="  "))


def test_coordinator_adds_a_member_and_the_audit_names_both(coordinator):
    team = TeamFactory(name="Kazan")
    lawyer = UserFactory(username="lawyer", role=Role.LAWYER)
    services.team_member_add(actor=coordinator, team=team, user=lawyer)
    entry = AuditEntry.objects.get(action="refuge.accounts.membership.added")
    assert str(team.pk) in entry.detail
    assert str(lawyer.pk) in entry.detail


def test_adding_someone_twice_is_refused(coordinator):
    team = TeamFactory(name="Kazan")
    lawyer = UserFactory(username="lawyer", role=Role.LAWYER)
    services.team_member_add(actor=coordinator, team=team, user=lawyer)
    assert "user" in field_errors(
        lambda: services.team_member_add(actor=coordinator, team=team, user=lawyer)
    )


def test_deactivated_account_cannot_join_a_team(coordinator):
    gone = UserFactory(username="gone", role=Role.LAWYER, is_active=False)
    assert "user" in field_errors(
        lambda: services.team_member_add(
            actor=coordinator, team=TeamFactory(name="Kazan"), user=gone
        )
    )


def test_lead_flag_is_set_and_cleared(coordinator):
    team = TeamFactory(name="Kazan")
    lawyer = UserFactory(username="lawyer", role=Role.LAWYER)
    services.team_member_add(actor=coordinator, team=team, user=lawyer)
    services.team_member_set_lead(actor=coordinator, team=team, user=lawyer)
    assert TeamMembership.objects.get(team=team, user=lawyer).is_lead
    services.team_member_set_lead(actor=coordinator, team=team, user=lawyer, is_lead=False)
    assert not TeamMembership.objects.get(team=team, user=lawyer).is_lead


def test_removing_a_member_is_audited(coordinator):
    team = TeamFactory(name="Kazan")
    lawyer = UserFactory(username="lawyer", role=Role.LAWYER)
    services.team_member_add(actor=coordinator, team=team, user=lawyer)
    services.team_member_remove(actor=coordinator, team=team, user=lawyer)
    assert not TeamMembership.objects.filter(team=team).exists()
    assert AuditEntry.objects.filter(action="refuge.accounts.membership.removed").exists()


def test_deactivated_coordinator_cannot_manage_teams(coordinator):
    coordinator.is_active = False
    with pytest.raises(DomainError):
        services.team_create(actor=coordinator, name="Kazan")


def test_system_actor_is_recorded_as_system():
    services.team_create(actor=None, name="Kazan")
    entry = AuditEntry.objects.get(action="refuge.accounts.team.created")
    assert entry.actor_id is None
    assert entry.actor_label == "system"


def test_system_actor_cannot_change_existing_accounts(admin):
    with pytest.raises(DomainError):
        services.user_update(actor=None, user=admin, role=Role.LAWYER)
