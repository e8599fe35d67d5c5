"""The security notices in the API and on the notices page: what happened, which account, and
where each notice was sent; coordinators only (404 for every other role)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from refuge.accounts import notices
from refuge.accounts.models import SecurityNotice
from refuge.alerts.models import NoticeDelivery, StaffChannel
from refuge.alerts.services import notice_delivery
from tests.alerts.conftest import recorder  # noqa: F401 - the notifier in memory

pytestmark = pytest.mark.django_db
OTHERS = ["caseworker", "lawyer", "outsider", "operator", "analyst", "admin"]


@pytest.fixture
def sent_notice(cast, recorder):  # type: ignore[no-untyped-def]  # noqa: F811
    StaffChannel.objects.create(user=cast.coordinator, kind="email", target="c@example.org")
    notice = notices.notice_raise(kind=SecurityNotice.Kind.NEW_PLACE_LOGIN, user=cast.operator)
    notice_delivery.deliver_due_notices()
    return notice


def test_a_coordinator_lists_the_notices_with_where_they_went(api_as, cast, sent_notice):
    response = api_as(cast.coordinator).get("notices")
    assert response.status_code == 200
    (listed,) = response.json()
    assert listed["id"] == str(sent_notice.pk)
    assert listed["kind"] == "new_place_login"
    assert listed["what"] == "Signed in from a new place"
    assert listed["account"] == "operator"
    assert listed["acknowledged_by"] is None
    (delivery,) = listed["deliveries"]
    assert delivery["recipient"] == "coordinator"
    assert delivery["channel"] == "email"
    assert delivery["state"] == "sent"
    assert delivery["sent_at"] is not None
    assert delivery["attempts"] == 1
    assert delivery["no_channel"] is False


@pytest.mark.parametrize("role", OTHERS)
def test_other_roles_get_404(api_as, cast, sent_notice, role):
    api = api_as(cast.by_role()[role])
    assert api.get("notices").status_code == 404
    assert api.post("notices/seen").status_code == 404
    assert SecurityNotice.objects.get().acknowledged_at is None


def test_a_coordinator_marks_them_seen_and_what_is_unsent_is_cancelled(api_as, cast, recorder):  # noqa: F811
    StaffChannel.objects.create(user=cast.coordinator, kind="email", target="c@example.org")
    notice = notices.notice_raise(kind=SecurityNotice.Kind.SEALED, user=None)
    api = api_as(cast.coordinator)
    response = api.post("notices/seen")
    assert response.status_code == 200
    assert response.json() == {"count": 1}
    notice.refresh_from_db()
    assert notice.acknowledged_by == cast.coordinator
    notice_delivery.deliver_due_notices()
    assert NoticeDelivery.objects.get().state == NoticeDelivery.State.CANCELLED
    assert recorder.sent == []
    again = api.post("notices/seen")
    assert again.status_code == 422
    assert again.json()["detail"] == "There are no open notices."


def test_the_page_shows_where_each_notice_went(login, cast, sent_notice):
    page = login(cast.coordinator).get(reverse("accounts:notice_list")).content.decode()
    assert "Signed in from a new place" in page
    assert "Sent to" in page
    assert "coordinator:" in page
    assert "E-mail, sent" in page


def test_the_page_names_a_coordinator_without_a_channel(login, cast):
    notices.notice_raise(kind=SecurityNotice.Kind.UNSEALED, user=None)
    page = login(cast.coordinator).get(reverse("accounts:notice_list")).content.decode()
    assert "coordinator: no notification channel" in " ".join(page.split())


@pytest.mark.parametrize("role", OTHERS)
def test_the_page_is_403_for_other_roles(login, cast, sent_notice, role):
    client = login(cast.by_role()[role])  # a page their role may never use: 403, and why
    page = client.get(reverse("accounts:notice_list"))
    assert page.status_code == 403
    assert "Security notices are for coordinators." in page.content.decode()
    assert client.post(reverse("accounts:notice_acknowledge")).status_code == 403
