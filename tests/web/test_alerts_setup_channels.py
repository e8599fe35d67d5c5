"""The "My channels" page (every staff role) and the staff channel pages (coordinators look,
administrators manage). A channel's address is shown to its owner, coordinators and admins only."""

from __future__ import annotations

import pytest

from refuge.alerts.models import StaffChannel
from refuge.alerts.services import setup
from refuge.security.models import AuditEntry

pytestmark = pytest.mark.django_db
ROLES = ["coordinator", "caseworker", "lawyer", "outsider", "operator", "analyst", "admin"]
ADDRESS = "lawyer-alerts@example.org"


@pytest.fixture
def channel(cast):
    return setup.staff_channel_add(
        actor=cast.lawyer, user=cast.lawyer, kind=StaffChannel.Kind.EMAIL, target=ADDRESS
    )


@pytest.mark.parametrize("role", ROLES)
def test_every_role_reaches_and_fills_its_own_channels_page(cast, login, role):
    user = cast.by_role()[role]
    client = login(user)
    assert b'href="/alerts/setup/channels/"' in client.get("/alerts/setup/channels/").content
    response = client.post(
        "/alerts/setup/channels/new/", {"kind": "telegram", "target": "@refuge_staff"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/alerts/setup/channels/"
    page = client.get("/alerts/setup/channels/").content.decode()
    assert "@refuge_staff" in page
    assert StaffChannel.objects.get().user == user


def test_a_refused_channel_says_what_the_address_should_look_like(cast, login):
    response = login(cast.lawyer).post(
        "/alerts/setup/channels/new/", {"kind": "signal", "target": "call me"}
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "Enter a phone number in international format" in body
    assert 'class="field invalid"' in body
    assert not StaffChannel.objects.exists()


def test_the_owner_edits_reorders_and_removes_channels(cast, login, channel):
    client = login(cast.lawyer)
    second = setup.staff_channel_add(
        actor=cast.lawyer, user=cast.lawyer, kind=StaffChannel.Kind.MATRIX, target="@l:m.org"
    )
    edit = f"/alerts/setup/channels/{channel.pk}/edit/"
    assert ADDRESS in client.get(edit).content.decode()
    response = client.post(edit, {"kind": "email", "target": "new@example.org"})
    assert response.status_code == 302
    channel.refresh_from_db()
    assert (channel.target, channel.active) == ("new@example.org", False)  # unticked: inactive
    response = client.post(edit, {"kind": "webhook", "target": "new@example.org"})
    assert response.status_code == 400
    assert "Enter an Apprise webhook URL" in response.content.decode()
    assert (
        client.post(f"/alerts/setup/channels/{second.pk}/move/", {"position": 0}).status_code == 302
    )
    second.refresh_from_db()
    assert second.position == 0
    assert client.post(f"/alerts/setup/channels/{channel.pk}/remove/").status_code == 302
    assert list(StaffChannel.objects.all()) == [second]


@pytest.mark.parametrize("role", ["coordinator", "caseworker", "outsider", "operator", "analyst"])
def test_nobody_else_reaches_a_channel_by_its_id(cast, login, channel, role):
    client = login(cast.by_role()[role])
    assert client.get(f"/alerts/setup/channels/{channel.pk}/edit/").status_code == 404
    for action in ("edit", "remove", "move"):
        url = f"/alerts/setup/channels/{channel.pk}/{action}/"
        assert (
            client.post(url, {"kind": "email", "target": "x@y.org", "position": 0}).status_code
            == 404
        )
    channel.refresh_from_db()
    assert channel.target == ADDRESS


def test_my_channels_page_never_shows_someone_elses(cast, login, channel):
    body = login(cast.caseworker).get("/alerts/setup/channels/").content.decode()
    assert ADDRESS not in body
    assert "You have no channels yet" in body


def test_an_admin_manages_a_staff_members_channels(cast, login, channel):
    client = login(cast.admin)
    overview = client.get("/alerts/setup/staff/").content.decode()
    assert f"/alerts/setup/staff/{cast.lawyer.pk}/channels/" in overview
    page = client.get(f"/alerts/setup/staff/{cast.lawyer.pk}/channels/").content.decode()
    assert ADDRESS in page
    response = client.post(
        f"/alerts/setup/staff/{cast.lawyer.pk}/channels/new/",
        {"kind": "signal", "target": "+79001234567"},
    )
    assert response.status_code == 302
    assert response["Location"] == f"/alerts/setup/staff/{cast.lawyer.pk}/channels/"
    assert cast.lawyer.channels.count() == 2
    entry = AuditEntry.objects.filter(action="refuge.alerts.staff_channel.added").last()
    assert entry.actor_id == cast.admin.pk
    response = client.post(
        f"/alerts/setup/channels/{channel.pk}/edit/",
        {"kind": "email", "target": ADDRESS, "active": "on"},
    )
    assert response["Location"] == f"/alerts/setup/staff/{cast.lawyer.pk}/channels/"


def test_an_admin_refused_on_a_staff_page_sees_why(cast, login):
    response = login(cast.admin).post(
        f"/alerts/setup/staff/{cast.lawyer.pk}/channels/new/", {"kind": "email", "target": "x"}
    )
    assert response.status_code == 400
    assert "Enter an e-mail address" in response.content.decode()


def test_a_coordinator_looks_but_does_not_touch(cast, login, channel):
    client = login(cast.coordinator)
    page = client.get(f"/alerts/setup/staff/{cast.lawyer.pk}/channels/").content.decode()
    assert ADDRESS in page
    assert "Add a channel" not in page
    assert "nobody can page" not in page
    response = client.post(
        f"/alerts/setup/staff/{cast.lawyer.pk}/channels/new/",
        {"kind": "email", "target": "c@example.org"},
    )
    assert response.status_code == 404
    assert "None" in client.get("/alerts/setup/staff/").content.decode()  # no channel: flagged


@pytest.mark.parametrize("role", ["caseworker", "lawyer", "outsider", "operator", "analyst"])
def test_other_roles_do_not_see_staff_channel_pages(cast, login, channel, role):
    client = login(cast.by_role()[role])
    assert client.get("/alerts/setup/staff/").status_code == 404
    assert client.get(f"/alerts/setup/staff/{cast.lawyer.pk}/channels/").status_code == 404
    assert client.get(f"/alerts/setup/staff/{cast.caseworker.pk}/channels/").status_code == 404
    response = client.post(
        f"/alerts/setup/staff/{cast.lawyer.pk}/channels/new/",
        {"kind": "email", "target": "x@example.org"},
    )
    assert response.status_code == 404


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get("/alerts/setup/channels/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]
