"""Staff notification channels: who may manage them, what a valid target looks like, their
failover order, and an audit trail that never holds the target."""

from __future__ import annotations

import pytest

from refuge.alerts import selectors
from refuge.alerts.models import StaffChannel
from refuge.alerts.services import setup
from refuge.core.errors import DomainError, NotFoundError
from refuge.security.models import AuditEntry

pytestmark = pytest.mark.django_db
Kind = StaffChannel.Kind
BOT = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


@pytest.mark.parametrize(
    ("kind", "target"),
    [
        (Kind.EMAIL, "lawyer@example.org"),
        (Kind.EMAIL, "  Lawyer.Name+alerts@mail.example.org "),
        (Kind.TELEGRAM, "123456789"),
        (Kind.TELEGRAM, "-1001234567890"),
        (Kind.TELEGRAM, "@refuge_lawyer"),
        (Kind.TELEGRAM, f"tgram://{BOT}/123456789"),
        (Kind.TELEGRAM, f"tgram://{BOT}/123456789/?format=text"),
        (Kind.SIGNAL, "+79001234567"),
        (Kind.SIGNAL, "signal://localhost:8080/+79001234567/+79007654321"),
        (Kind.SIGNAL, "signals://user:pass@signal.example.org/+79001234567"),
        (Kind.MATRIX, "@lawyer:matrix.example.org"),
        (Kind.MATRIX, "#line:example.org"),
        (Kind.MATRIX, "matrixs://lawyer:token@matrix.example.org/#line"),
        (Kind.WEBHOOK, "jsons://hooks.example.org/refuge"),
        (Kind.WEBHOOK, "json://127.0.0.1:8025/hook"),
        (Kind.WEBHOOK, "forms://hooks.example.org:8443/a/b?x=1"),
    ],
)
def test_valid_targets_are_accepted(cast, kind, target):
    channel = setup.staff_channel_add(actor=cast.lawyer, user=cast.lawyer, kind=kind, target=target)
    assert channel.target == target.strip()


@pytest.mark.parametrize(
    ("kind", "target"),
    [
        (Kind.EMAIL, "not an address"),
        (Kind.EMAIL, "mailto://lawyer@example.org"),
        (Kind.TELEGRAM, "hello"),
        (Kind.TELEGRAM, "@abc"),
        (Kind.TELEGRAM, "tgram://short:token/1"),
        (Kind.TELEGRAM, f"tgram://{BOT}"),
        (Kind.SIGNAL, "79001234567"),
        (Kind.SIGNAL, "json://signal.example.org/+79001234567"),
        (Kind.MATRIX, "lawyer@matrix.example.org"),
        (Kind.MATRIX, "@lawyer"),
        (Kind.WEBHOOK, "https://hooks.example.org/refuge"),
        (Kind.WEBHOOK, "jsons:///no-host"),
        (Kind.WEBHOOK, "jsons://hooks.example.org/a b"),
        (Kind.WEBHOOK, "jsons://hooks.example.org:99999/"),
        (Kind.WEBHOOK, "jsons://hooks.example.org/\x00"),
    ],
)
def test_invalid_targets_are_refused_with_what_they_should_look_like(cast, kind, target):
    with pytest.raises(DomainError) as excinfo:
        setup.staff_channel_add(actor=cast.lawyer, user=cast.lawyer, kind=kind, target=target)
    assert excinfo.value.field_errors == {"target": [setup.target_help(kind)]}
    assert not StaffChannel.objects.exists()


@pytest.mark.parametrize(
    ("kind", "target", "field"),
    [
        ("sms", "+79001234567", "kind"),
        (Kind.EMAIL, "   ", "target"),
        (Kind.WEBHOOK, "x" * 501, "target"),
    ],
)
def test_unknown_kinds_and_empty_or_long_targets_are_refused(cast, kind, target, field):
    with pytest.raises(DomainError) as excinfo:
        setup.staff_channel_add(actor=cast.lawyer, user=cast.lawyer, kind=kind, target=target)
    assert list(excinfo.value.field_errors) == [field]


def test_everyone_manages_their_own_channels(cast):
    for user in cast.by_role().values():
        channel = setup.staff_channel_add(
            actor=user, user=user, kind=Kind.EMAIL, target=f"{user.username}@example.org"
        )
        setup.staff_channel_update(actor=user, channel=channel, active=False)
        setup.staff_channel_remove(actor=user, channel=channel)
    assert not StaffChannel.objects.exists()


@pytest.mark.parametrize("role", ["coordinator", "caseworker", "outsider", "operator", "analyst"])
def test_nobody_but_the_owner_and_admins_changes_a_channel(cast, role):
    user = cast.by_role()[role]
    channel = setup.staff_channel_add(
        actor=cast.lawyer, user=cast.lawyer, kind=Kind.EMAIL, target="lawyer@example.org"
    )
    with pytest.raises(NotFoundError):
        setup.staff_channel_add(actor=user, user=cast.lawyer, kind=Kind.EMAIL, target="x@y.org")
    with pytest.raises(NotFoundError):
        setup.staff_channel_update(actor=user, channel=channel, active=False)
    with pytest.raises(NotFoundError):
        setup.staff_channel_move(actor=user, channel=channel, position=0)
    with pytest.raises(NotFoundError):
        setup.staff_channel_remove(actor=user, channel=channel)
    with pytest.raises(NotFoundError):
        selectors.channel_get(actor=user, channel_id=channel.pk)


def test_an_admin_manages_anyones_channels(cast):
    channel = setup.staff_channel_add(
        actor=cast.admin, user=cast.lawyer, kind=Kind.EMAIL, target="lawyer@example.org"
    )
    assert selectors.channel_get(actor=cast.admin, channel_id=channel.pk) == channel
    setup.staff_channel_update(actor=cast.admin, channel=channel, target="l2@example.org")
    assert AuditEntry.objects.filter(
        action="refuge.alerts.staff_channel.updated", actor_id=cast.admin.pk
    ).exists()


def test_coordinators_see_channels_but_others_do_not(cast):
    setup.staff_channel_add(
        actor=cast.lawyer, user=cast.lawyer, kind=Kind.EMAIL, target="lawyer@example.org"
    )
    for role in ("coordinator", "admin", "lawyer"):
        assert selectors.channels_of(actor=cast.by_role()[role], user=cast.lawyer).count() == 1
    for role in ("caseworker", "outsider", "operator", "analyst"):
        with pytest.raises(NotFoundError):
            selectors.channels_of(actor=cast.by_role()[role], user=cast.lawyer)


def test_the_audit_trail_never_holds_the_target(cast):
    channel = setup.staff_channel_add(
        actor=cast.lawyer, user=cast.lawyer, kind=Kind.SIGNAL, target="+79001234567"
    )
    setup.staff_channel_update(actor=cast.lawyer, channel=channel, target="+79007654321")
    setup.staff_channel_remove(actor=cast.lawyer, channel=channel)
    entries = AuditEntry.objects.filter(action__startswith="refuge.alerts.staff_channel.")
    assert entries.count() == 3
    assert all("7900" not in e.detail for e in entries)


def test_changing_the_kind_checks_the_target_again(cast):
    channel = setup.staff_channel_add(
        actor=cast.lawyer, user=cast.lawyer, kind=Kind.EMAIL, target="lawyer@example.org"
    )
    with pytest.raises(DomainError) as excinfo:
        setup.staff_channel_update(actor=cast.lawyer, channel=channel, kind=Kind.TELEGRAM)
    assert list(excinfo.value.field_errors) == ["target"]
    setup.staff_channel_update(
        actor=cast.lawyer, channel=channel, kind=Kind.TELEGRAM, target="@refuge_lawyer"
    )
    channel.refresh_from_db()
    assert (channel.kind, channel.target) == (Kind.TELEGRAM, "@refuge_lawyer")


def test_an_unchanged_channel_writes_no_audit_entry(cast):
    channel = setup.staff_channel_add(
        actor=cast.lawyer, user=cast.lawyer, kind=Kind.EMAIL, target="lawyer@example.org"
    )
    before = AuditEntry.objects.count()
    setup.staff_channel_update(
        actor=cast.lawyer, channel=channel, kind=Kind.EMAIL, target="lawyer@example.org"
    )
    assert AuditEntry.objects.count() == before


def _order(user):
    return list(selectors.channels_of(actor=user, user=user).values_list("position", "kind"))


def test_channels_keep_a_failover_order(cast):
    add = setup.staff_channel_add
    email = add(actor=cast.lawyer, user=cast.lawyer, kind=Kind.EMAIL, target="l@example.org")
    add(actor=cast.lawyer, user=cast.lawyer, kind=Kind.TELEGRAM, target="@refuge_lawyer")
    signal = add(actor=cast.lawyer, user=cast.lawyer, kind=Kind.SIGNAL, target="+79001234567")
    assert _order(cast.lawyer) == [(0, "email"), (1, "telegram"), (2, "signal")]
    setup.staff_channel_move(actor=cast.lawyer, channel=signal, position=0)
    assert _order(cast.lawyer) == [(0, "signal"), (1, "email"), (2, "telegram")]
    setup.staff_channel_remove(actor=cast.lawyer, channel=email)
    assert _order(cast.lawyer) == [(0, "signal"), (1, "telegram")]
    with pytest.raises(DomainError):
        setup.staff_channel_move(actor=cast.lawyer, channel=signal, position=2)


def test_a_person_has_a_bounded_number_of_channels(cast):
    for number in range(setup.MAX_CHANNELS):
        setup.staff_channel_add(
            actor=cast.lawyer, user=cast.lawyer, kind=Kind.EMAIL, target=f"l{number}@example.org"
        )
    with pytest.raises(DomainError):
        setup.staff_channel_add(
            actor=cast.lawyer, user=cast.lawyer, kind=Kind.EMAIL, target="more@example.org"
        )


def test_the_selectors_fail_closed(cast):
    channel = setup.staff_channel_add(
        actor=cast.lawyer, user=cast.lawyer, kind=Kind.EMAIL, target="lawyer@example.org"
    )
    assert selectors.can_manage_channels_of(None, cast.lawyer)  # the server's command line
    assert selectors.channel_get(actor=None, channel_id=channel.pk) == channel
    cast.lawyer.is_active = False
    assert not selectors.can_manage_channels_of(cast.lawyer, cast.lawyer)
    with pytest.raises(NotFoundError):
        selectors.channel_get(actor=cast.lawyer, channel_id=channel.pk)
    with pytest.raises(NotFoundError):
        selectors.user_get(actor=cast.lawyer, user_id=cast.lawyer.pk)
    with pytest.raises(NotFoundError):
        selectors.user_get(actor=cast.caseworker, user_id=cast.coordinator.pk)
    with pytest.raises(NotFoundError):
        selectors.channel_get(actor=cast.admin, channel_id="not-a-uuid")
    with pytest.raises(NotFoundError):
        selectors.policy_get(actor=cast.coordinator, policy_id="not-a-uuid")
    assert selectors.staff_member(actor=None, user_id="not-a-uuid") is None
    assert selectors.staff_member(actor=None, user_id=cast.lawyer.pk) == cast.lawyer
