"""Logging in and out: audited, lockout after repeated failures, language follows the user."""

import pytest
from django.conf import settings
from django.urls import reverse

from refuge.accounts.models import Role
from refuge.security.models import AuditEntry
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db
LOGIN = reverse("accounts:login")


@pytest.fixture
def lawyer():
    return UserFactory(username="lawyer", role=Role.LAWYER, language="ru")


def entries(action):
    return AuditEntry.objects.filter(action=f"refuge.accounts.session.{action}")


def test_login_page_shows_the_form(client):
    response = client.get(LOGIN)
    assert response.status_code == 200
    assert 'name="username"' in response.content.decode()


def test_successful_login_redirects_and_is_audited(client, lawyer):
    response = client.post(LOGIN, {"username": "lawyer", "password": PASSWORD})
    assert response.status_code == 302
    (entry,) = entries("logged_in")
    assert entry.actor_id == lawyer.pk


def test_login_activates_the_users_preferred_language(client, lawyer):
    response = client.post(LOGIN, {"username": "lawyer", "password": PASSWORD})
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "ru"


def test_failed_login_is_audited_without_actor_or_password(client, lawyer):
    response = client.post(LOGIN, {"username": "lawyer", "password": "wrong-password-123"})
    assert response.status_code == 200
    (entry,) = entries("login_failed")
    assert entry.actor_id is None
    assert '"username":"lawyer"' in entry.detail
    assert "wrong-password-123" not in entry.detail


def test_failed_login_records_the_whole_150_character_username(client):
    client.post(LOGIN, {"username": "x" * 150, "password": "wrong-password-123"})
    (entry,) = entries("login_failed")
    assert '"username":"' + "x" * 150 + '"' in entry.detail


def test_overlong_username_is_refused_before_any_login_attempt(client):
    response = client.post(LOGIN, {"username": "x" * 300, "password": "wrong-password-123"})
    assert response.status_code == 200
    assert response.context["form"].errors["username"]
    assert not entries("login_failed").exists()


def test_unknown_user_and_wrong_password_get_the_same_answer(client, lawyer):
    wrong = client.post(LOGIN, {"username": "lawyer", "password": "wrong-password-123"})
    unknown = client.post(LOGIN, {"username": "nobody", "password": "wrong-password-123"})
    assert wrong.status_code == unknown.status_code
    assert wrong.context["form"].errors == unknown.context["form"].errors


def test_empty_form_is_not_recorded_as_a_login_attempt(client):
    client.post(LOGIN, {"username": "", "password": ""})
    assert not entries("login_failed").exists()


def test_deactivated_account_cannot_log_in(client):
    UserFactory(username="gone", is_active=False)
    response = client.post(LOGIN, {"username": "gone", "password": PASSWORD})
    assert response.status_code == 200
    assert entries("login_failed").count() == 1


def test_repeated_wrong_passwords_lock_the_login_with_429(client, lawyer):
    for _attempt in range(settings.AXES_FAILURE_LIMIT - 1):
        client.post(LOGIN, {"username": "lawyer", "password": "wrong-password-123"})
    response = client.post(LOGIN, {"username": "lawyer", "password": "wrong-password-123"})
    assert response.status_code == 429
    assert "Too many attempts" in response.content.decode()


def test_correct_password_is_refused_during_the_lockout(client, lawyer):
    for _attempt in range(settings.AXES_FAILURE_LIMIT):
        client.post(LOGIN, {"username": "lawyer", "password": "wrong-password-123"})
    response = client.post(LOGIN, {"username": "lawyer", "password": PASSWORD})
    assert response.status_code == 429
    assert not entries("logged_in").exists()


def test_logout_is_audited_and_clears_the_browser(client, lawyer):
    client.force_login(lawyer)
    response = client.post(reverse("accounts:logout"))
    assert response.status_code == 302
    assert response["Location"] == LOGIN
    assert response["Clear-Site-Data"] == '"cache", "cookies", "storage"'
    (entry,) = entries("logged_out")
    assert entry.actor_id == lawyer.pk


def test_logout_ends_the_session(client, lawyer):
    client.force_login(lawyer)
    client.post(reverse("accounts:logout"))
    assert client.get(reverse("people:list")).status_code == 302


def test_logout_by_get_is_refused(client, lawyer):
    client.force_login(lawyer)
    assert client.get(reverse("accounts:logout")).status_code == 405
    assert not entries("logged_out").exists()
