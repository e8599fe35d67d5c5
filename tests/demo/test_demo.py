"""`refuge demo`: the reference scenario as demo data, and the demo's web server and worker."""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.utils import timezone

from refuge.accounts.models import Team, TeamMembership, User
from refuge.cases import selectors as case_selectors
from refuge.cases.models import Case, CaseStatus, CaseType, Task, TimelineEntry
from refuge.core import clock
from refuge.core.errors import NotFoundError
from refuge.demo import scenario
from refuge.people import selectors
from refuge.people.models import ProtectedPerson, Relative
from refuge.security import audit
from refuge.security.models import AuditEntry, DataKey
from tests.conftest import verified_login

REPO = Path(__file__).resolve().parents[2]
MODELS = (User, Team, TeamMembership, ProtectedPerson, Relative, Case, TimelineEntry, Task)


@pytest.fixture
def demo_mode(settings):  # type: ignore[no-untyped-def]
    settings.DEMO_MODE = True
    return settings


@pytest.fixture
def loaded(db, demo_mode, capsys):  # type: ignore[no-untyped-def]
    call_command("demo", "--no-serve")
    return capsys.readouterr().out


def _user(username: str) -> User:
    return User.objects.get(username=username)


def _counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in (*MODELS, DataKey, AuditEntry)}


@pytest.mark.django_db
def test_refuses_outside_demo_mode(settings):
    settings.DEMO_MODE = False
    with pytest.raises(CommandError, match="REFUGE_DEMO=1"):
        call_command("demo", "--no-serve")
    assert not User.objects.exists()
    with pytest.raises(scenario.DemoModeRequiredError):
        scenario.scenario_load()


def test_loads_the_scenario(loaded):
    assert "Created staff accounts: operator, caseworker, lawyer" in loaded
    assert set(ProtectedPerson.objects.values_list("pseudonym", flat=True)) == {"FALCON", "BIRCH"}
    birch = ProtectedPerson.objects.get(pseudonym="BIRCH")
    falcon = ProtectedPerson.objects.get(pseudonym="FALCON")
    assert birch.is_minor
    assert not falcon.is_minor
    relatives = Relative.objects.filter(person=falcon)
    assert sorted(r.relation for r in relatives) == ["mother", "sibling"]
    assert {r.risk_level for r in relatives} == {"high"}
    assert sorted(Case.objects.values_list("case_type", flat=True)) == sorted(CaseType.values)
    for case in Case.objects.all():
        assert case.status == CaseStatus.ACTIVE
        assert set(case.people.all()) == {falcon, birch}
        assert case.team.name == scenario.TEAM_NAME
    assert audit.verify().ok


def test_the_call_and_the_lawyer_on_site_are_recorded(loaded):
    emergency = Case.objects.get(case_type=CaseType.EMERGENCY)
    assert emergency.opened_by == _user("operator")
    call = emergency.timeline.get(kind=TimelineEntry.Kind.CALL)
    assert call.author == _user("operator")
    assert timezone.localtime(call.occurred_at).time() == dt.time(15, 0)
    on_site = emergency.timeline.get(author=_user("lawyer"))
    assert on_site.occurred_at - call.occurred_at == dt.timedelta(minutes=30)
    assert "signs of a struggle" in (on_site.text or "")
    assert "screaming" in (emergency.summary or "").lower()


def test_the_lawyer_has_the_task_to_chase_the_police(loaded):
    task = Task.objects.get()
    assert task.title == "Chase the police for the claim's reference number"
    assert task.assignee == _user("lawyer")
    assert task.due_date == clock.today() + dt.timedelta(days=3)
    assert task.case.case_type == CaseType.LEGAL


def test_running_it_again_creates_nothing(loaded, capsys):
    before = _counts()
    call_command("demo", "--no-serve")
    assert "already loaded" in capsys.readouterr().out
    assert _counts() == before


@pytest.mark.parametrize(("username", "role"), scenario.STAFF)
def test_every_role_has_an_account(loaded, username, role):
    user = _user(username)
    assert user.role == role
    assert user.check_password("refuge-demo")
    assert user.is_active


def test_team_has_the_caseworker_as_lead_and_the_lawyer(loaded):
    team = Team.objects.get(name="Nizhny Novgorod team")
    members = {m.user.username: m.is_lead for m in team.memberships.select_related("user")}
    assert members == {"caseworker": True, "lawyer": False}


def test_caseworker_sees_falcons_identity(loaded):
    caseworker = _user("caseworker")
    falcon = selectors.person_get(
        actor=caseworker, person_id=ProtectedPerson.objects.get(pseudonym="FALCON").pk
    )
    identity = selectors.person_identity(actor=caseworker, person=falcon, purpose="demo test")
    assert identity.legal_name == scenario.FALCON_NAME
    assert identity.phones == scenario.FALCON_PHONE
    assert identity.address == scenario.FLAT_ADDRESS
    assert AuditEntry.objects.filter(
        action="refuge.people.identity.viewed", object_id=str(falcon.pk)
    ).exists()


def test_only_the_team_lead_sees_the_minors_identity(loaded):
    birch_id = ProtectedPerson.objects.get(pseudonym="BIRCH").pk
    lead = _user("caseworker")
    birch = selectors.person_get(actor=lead, person_id=birch_id)
    assert selectors.person_identity(actor=lead, person=birch, purpose="t").legal_name == (
        scenario.BIRCH_NAME
    )
    lawyer = _user("lawyer")
    birch = selectors.person_get(actor=lawyer, person_id=birch_id)
    with pytest.raises(NotFoundError):
        selectors.person_identity(actor=lawyer, person=birch, purpose="t")


def test_analyst_sees_the_documentation_case_but_no_identity(loaded):
    analyst = _user("analyst")
    visible = case_selectors.case_list(actor=analyst)
    assert [c.case_type for c in visible] == [CaseType.DOCUMENTATION]
    falcon_id = ProtectedPerson.objects.get(pseudonym="FALCON").pk
    falcon = selectors.person_get(actor=analyst, person_id=falcon_id)
    with pytest.raises(NotFoundError):
        selectors.person_identity(actor=analyst, person=falcon, purpose="t")


# --- the served demo --------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _demo_env(var_dir: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("REFUGE_") and k not in {"DATABASE_URL", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(
        REFUGE_DEMO="1",
        REFUGE_VAR_DIR=str(var_dir),
        REFUGE_WORKER_POLL_SECONDS="1",
        DJANGO_SETTINGS_MODULE="refuge.config.settings",
        PYTHONUNBUFFERED="1",
    )
    return env


def _nobody_left_in(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.slow
@pytest.mark.parametrize("ctrl_c", ["terminal", "demo_only"])
def test_demo_serves_through_gunicorn_and_ctrl_c_stops_everything(tmp_path, ctrl_c):
    """Ctrl-C in a terminal signals the whole process group (the demo, keyd, gunicorn and its
    workers, the worker) at once; `kill -INT` reaches the demo alone, which stops the rest."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    demo = subprocess.Popen(
        [sys.executable, "-m", "refuge.cli", "demo", "--port", str(port)],
        cwd=REPO,
        env=_demo_env(tmp_path / "var"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    seen: list[str] = []
    try:
        deadline = time.monotonic() + 90
        assert demo.stdout is not None
        while time.monotonic() < deadline:
            line = demo.stdout.readline()
            if not line:
                break
            seen.append(line)
            if "Press Ctrl-C" in line:
                break
        output = "".join(seen)
        assert f"running at {url}" in output, output
        assert "password: refuge-demo" in output
        for username, _role in scenario.STAFF:
            assert f"  {username}" in output
        assert "DEMO VALUES" in output
        assert "PIN 3690, duress PIN 1470" in output
        assert f"{url}/c/" in output  # the links follow --port
        with urllib.request.urlopen(f"{url}/accounts/login/", timeout=30) as response:  # noqa: S310
            assert response.status == 200
            assert response.headers["Server"] == "gunicorn"
        # Not the development server: WhiteNoise serves the static files inside gunicorn.
        with urllib.request.urlopen(f"{url}/static/intake/page.css", timeout=30) as response:  # noqa: S310
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/css")
    finally:
        if ctrl_c == "terminal":
            os.killpg(demo.pid, signal.SIGINT)
        else:
            demo.send_signal(signal.SIGINT)
        rest, _ = demo.communicate(timeout=30)
    assert demo.returncode == 0, "".join(seen) + rest
    assert "Demo stopped." in rest
    assert "keyd stopped (sealed)." in rest
    assert "Traceback" not in rest, rest
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0  # the web server is gone
    deadline = time.monotonic() + 5
    while not _nobody_left_in(demo.pid) and time.monotonic() < deadline:
        time.sleep(0.1)  # children already reaped by their parents a moment ago
    assert _nobody_left_in(demo.pid), "a child of the demo outlived it"


# --- the emergency line (steps 2-4) ---------------------------------------------------------------


def _local(when: dt.datetime | None) -> dt.time:
    assert when is not None
    return timezone.localtime(when).time()


def test_checkin_schedules_pins_and_links(loaded):
    from refuge.alerts.models import CheckinSchedule
    from refuge.alerts.services import checkin_links, checkins
    from refuge.demo import scenario_alerts

    for pseudonym, (pin, duress) in {"FALCON": ("2468", "1357"), "BIRCH": ("3690", "1470")}.items():
        person = ProtectedPerson.objects.get(pseudonym=pseudonym)
        schedule = CheckinSchedule.objects.get(person=person)
        assert schedule.kind == CheckinSchedule.Kind.DAILY
        assert schedule.daily_time == dt.time(21, 0)
        assert schedule.time_zone == "Europe/Moscow"
        assert schedule.grace_minutes == 120
        assert pin not in schedule.pin_hash
        assert duress not in schedule.duress_pin_hash
        token = scenario_alerts.link_token(pseudonym)
        assert checkin_links.link_person(token) == person
        assert f"/c/{token}/" in loaded
        assert f"PIN {pin}, duress PIN {duress}" in loaded
        # The published PINs work: the normal and the duress PIN are both accepted alike (each
        # tried on the same schedule as it was, whatever the time of day and its window).
        before = transaction.savepoint()
        normal = checkins.checkin_submit(schedule=schedule, pin=pin, channel="page")
        transaction.savepoint_rollback(before)
        duress_result = checkins.checkin_submit(schedule=schedule, pin=duress, channel="page")
        assert normal.accepted
        assert normal == duress_result
    assert "DEMO VALUES" in loaded


def test_the_printed_links_follow_the_demo_port(db, demo_mode, capsys, monkeypatch):
    monkeypatch.setenv("REFUGE_PUBLIC_BASE_URL", "unset below")
    monkeypatch.delenv("REFUGE_PUBLIC_BASE_URL")
    call_command("demo", "--no-serve", "--port", "8123")
    out = capsys.readouterr().out
    assert "http://127.0.0.1:8123/c/" in out
    assert ":8000" not in out


def test_a_configured_public_address_is_printed_as_it_is(db, demo_mode, capsys, monkeypatch):
    monkeypatch.setenv("REFUGE_PUBLIC_BASE_URL", "https://notes.example.org/")
    call_command("demo", "--no-serve", "--port", "8123")
    out = capsys.readouterr().out
    assert "https://notes.example.org/c/" in out
    assert "8123" not in out


@pytest.mark.parametrize(
    ("base_url", "origins"),
    [
        ("http://127.0.0.1:8123", "['http://localhost:8123']"),
        ("http://127.0.0.1", "['http://localhost']"),
        ("https://refuge.example.org", "['https://refuge.example.org']"),
    ],
)
def test_passkey_origins_follow_the_public_address_and_its_port(tmp_path, base_url, origins):
    env = {**_demo_env(tmp_path), "REFUGE_PUBLIC_BASE_URL": base_url}
    code = "from django.conf import settings as s; print(s.OTP_WEBAUTHN_ALLOWED_ORIGINS)"
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == origins


def test_rota_policy_and_channels(loaded):
    from refuge.alerts import rota
    from refuge.alerts.models import EscalationPolicy, EscalationStep, OnCallRota, StaffChannel

    hotline = OnCallRota.objects.get(name="Hotline")
    assert rota.on_call(hotline, clock.now()) == _user("operator")
    policy = EscalationPolicy.objects.get(is_default=True)
    steps = list(policy.steps.order_by("position").values_list("target", "delay_minutes"))
    target = EscalationStep.Target
    assert steps == [
        (target.ON_CALL, 0),
        (target.CASE_LAWYER, 5),
        (target.COORDINATORS, 5),
        (target.CASE_TEAM, 5),
    ]
    for username, _role in scenario.STAFF:
        channel = StaffChannel.objects.get(user__username=username)
        assert channel.kind == StaffChannel.Kind.EMAIL
        assert channel.target == f"{username}@example.org"


def test_step_3_is_a_resolved_emergency_with_real_times(loaded):
    from refuge.alerts.models import Emergency, EmergencyEvent, EmergencySource, Notification
    from refuge.alerts.services import response

    emergency = Emergency.objects.get()
    birch = ProtectedPerson.objects.get(pseudonym="BIRCH")
    assert emergency.source == EmergencySource.CALL
    assert emergency.caller == birch
    assert emergency.state == "resolved"
    assert emergency.outcome == "missing"
    assert set(emergency.people.values_list("pseudonym", flat=True)) == {"FALCON", "BIRCH"}
    assert emergency.acknowledged_by == _user("lawyer")
    assert _local(emergency.reported_at) == dt.time(15, 0)
    assert _local(emergency.acknowledged_at) == dt.time(15, 4)
    assert _local(emergency.en_route_at) == dt.time(15, 6)
    assert _local(emergency.on_site_at) == dt.time(15, 30)
    assert emergency.reported_at <= emergency.opened_at <= emergency.first_notified_at  # type: ignore[operator]
    assert timezone.localtime(emergency.reported_at).date() < clock.today()
    kinds = list(emergency.events.order_by("at").values_list("kind", flat=True))
    kind = EmergencyEvent.Kind
    assert kinds == [
        kind.OPENED,
        kind.ESCALATED,
        kind.NOTIFICATION_SENT,
        kind.ACKNOWLEDGED,
        kind.EN_ROUTE,
        kind.ON_SITE,
        kind.NOTE,
        kind.JOINED,
        kind.JOINED,
        kind.RESOLVED,
    ]
    note = emergency.events.get(kind=kind.NOTE)
    assert "signs of a struggle" in (response.event_note(note) or "").lower()
    assert emergency.alerts.filter(source=EmergencySource.MISSED_CHECKIN).count() == 2
    notification = Notification.objects.get()
    assert notification.recipient == _user("operator")
    assert notification.state == Notification.State.SENT


def test_the_board_emergency_page_and_report_show_it(loaded, client):
    from refuge.alerts.models import Emergency

    emergency = Emergency.objects.get()
    verified_login(client, _user("lawyer"))
    for path in ("/alerts/", f"/alerts/e/{emergency.pk}/"):
        response = client.get(path)
        assert response.status_code == 200, path
    page = client.get(f"/alerts/e/{emergency.pk}/").content.decode()
    assert emergency.code in page
    assert scenario.BIRCH_NAME not in page
    assert scenario.FLAT_ADDRESS not in page
    verified_login(client, _user("coordinator"))
    report = client.get("/alerts/report/")
    assert report.status_code == 200


def test_running_it_again_adds_nothing_to_the_emergency_line(loaded, capsys):
    from refuge.alerts import models as alerts

    line = (
        alerts.CheckinSchedule,
        alerts.CheckinLink,
        alerts.OnCallRota,
        alerts.RotaMember,
        alerts.EscalationPolicy,
        alerts.EscalationStep,
        alerts.StaffChannel,
        alerts.Emergency,
        alerts.EmergencyEvent,
        alerts.Alert,
        alerts.Notification,
        alerts.NotificationAttempt,
    )
    before = {model.__name__: model.objects.count() for model in line}
    call_command("demo", "--no-serve")
    out = capsys.readouterr().out
    assert "Emergency line set up" not in out
    assert "Replayed" not in out
    assert "PIN 2468, duress PIN 1357" in out
    assert {model.__name__: model.objects.count() for model in line} == before
