"""The published demo password ("refuge-demo") only works in demo mode: at login, and when an
account's password is set."""

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import override_settings
from django.urls import reverse

from refuge.accounts import services
from refuge.accounts.models import Role, User
from refuge.accounts.validators import DEMO_PASSWORD, DemoPasswordValidator
from refuge.core.errors import DomainError
from refuge.security.models import AuditEntry
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
LOGIN = reverse("accounts:login")


@pytest.fixture
def demo_account():
    # As a demo database would hold it: the password set directly, bypassing validation.
    user = UserFactory(username="lawyer", role=Role.LAWYER)
    user.set_password(DEMO_PASSWORD)
    user.save()
    return user


@override_settings(DEMO_MODE=False)
def test_login_with_the_demo_password_is_refused_outside_demo_mode(client, demo_account):
    response = client.post(LOGIN, {"username": "lawyer", "password": DEMO_PASSWORD})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    assert AuditEntry.objects.filter(action="refuge.accounts.session.login_failed").exists()


@override_settings(DEMO_MODE=False)
def test_refused_demo_password_looks_like_any_wrong_password(client, demo_account):
    demo = client.post(LOGIN, {"username": "lawyer", "password": DEMO_PASSWORD})
    wrong = client.post(LOGIN, {"username": "lawyer", "password": "wrong-password-123"})
    assert demo.context["form"].errors == wrong.context["form"].errors


@override_settings(DEMO_MODE=True)
def test_login_with_the_demo_password_works_in_demo_mode(client, demo_account):
    response = client.post(LOGIN, {"username": "lawyer", "password": DEMO_PASSWORD})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(demo_account.pk)


@override_settings(DEMO_MODE=False)
def test_password_validation_refuses_the_demo_password_outside_demo_mode():
    with pytest.raises(ValidationError) as caught:
        validate_password(DEMO_PASSWORD)
    assert "password_demo" in {error.code for error in caught.value.error_list}


@override_settings(DEMO_MODE=False)
def test_demo_password_in_other_capitals_is_refused_too():
    with pytest.raises(ValidationError):
        DemoPasswordValidator().validate(" Refuge-Demo ")


@override_settings(DEMO_MODE=True)
def test_demo_password_validator_accepts_it_in_demo_mode():
    DemoPasswordValidator().validate(DEMO_PASSWORD)


@override_settings(DEMO_MODE=False)
def test_account_creation_refuses_the_demo_password_outside_demo_mode():
    with pytest.raises(DomainError) as caught:
        services.user_create(
            actor=None, username="lawyer", role=Role.LAWYER, password=DEMO_PASSWORD
        )
    assert any("demo" in message for message in caught.value.field_errors["password"])
    assert not User.objects.filter(username="lawyer").exists()


@override_settings(DEMO_MODE=True)
def test_account_creation_accepts_the_demo_password_in_demo_mode():
    user = services.user_create(
        actor=None, username="lawyer", role=Role.LAWYER, password=DEMO_PASSWORD
    )
    assert user.check_password(DEMO_PASSWORD)
