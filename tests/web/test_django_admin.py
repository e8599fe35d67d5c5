import pytest

from refuge.config.admin import site
from tests.conftest import verified_login

pytestmark = pytest.mark.django_db


def test_staff_flag_alone_does_not_open_the_admin(cast, client):
    cast.coordinator.is_staff = True
    cast.coordinator.save()
    verified_login(client, cast.coordinator)
    response = client.get("/admin/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_superusers_open_the_admin(cast, client):
    cast.admin.is_staff = True
    cast.admin.is_superuser = True
    cast.admin.save()
    verified_login(client, cast.admin)
    assert client.get("/admin/").status_code == 200


def test_no_protected_model_is_in_the_admin():
    registered = {model._meta.label for model in site._registry}
    protected = {
        "people.ProtectedPerson",
        "people.Relative",
        "cases.Case",
        "cases.TimelineEntry",
        "cases.Task",
        "security.DataKey",
        "security.AuditEntry",
    }
    assert not registered & protected


def test_an_admin_change_is_audited(cast, client):
    from refuge.security.models import AuditEntry

    cast.admin.is_staff = True
    cast.admin.is_superuser = True
    cast.admin.save()
    verified_login(client, cast.admin)
    response = client.post(
        "/admin/accounts/team/add/",
        {
            "name": "Repair team",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
            "memberships-MIN_NUM_FORMS": "0",
            "memberships-MAX_NUM_FORMS": "1000",
        },
    )
    assert response.status_code == 302
    assert AuditEntry.objects.filter(action="refuge.accounts.team.created").exists()
