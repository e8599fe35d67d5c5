"""The access sweep: every URL pattern and API route, with every role.

A role without need-to-know on the object in the URL gets 404 for every method (or 405 where the
method does not exist at all), and no response ever contains a legal identity that the role may
not see. A new URL parameter fails this test until the sweep knows which object it names.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from types import SimpleNamespace

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from refuge.accounts.models import Team
from refuge.alerts.models import (
    EscalationPolicy,
    EscalationStep,
    OnCallRota,
    RotaMember,
    RotaOverride,
    StaffChannel,
)
from refuge.alerts.services import calls, emergencies
from refuge.core import clock
from refuge.exports import services as export_services
from refuge.people.services.contacts import relative_contact_log
from tests.conftest import (
    BIRCH_NAME,
    BIRCH_PHONE,
    FALCON_NAME,
    FALCON_PHONE,
    FLAT_ADDRESS,
    MOTHER_NAME,
    verified_login,
)
from tests.factories import (
    RelativeFactory,
    TaskFactory,
    TimelineEntryFactory,
    evidence_file,
)

pytestmark = pytest.mark.django_db

SKIPPED_PREFIXES = ("admin", "set_language", "django.contrib.staticfiles")
API_METHODS = ("get", "post", "patch", "delete")
WEB_METHODS = ("get", "post")

# Which object a URL parameter names, by its name.
PARAMETER_ENTITIES = {
    "case_id": "case",
    "person_id": "person",
    "relative_id": "relative",
    "task_id": "task",
    "entry_id": "entry",
    "user_id": "user",
    "team_id": "team",
    "token_id": "token",
    "policy_id": "policy",
    "step_id": "step",
    "rota_id": "rota",
    "member_id": "rota_member",
    "override_id": "rota_override",
    "channel_id": "channel",
    "emergency_id": "emergency",
    "call_id": "call",
    "token": "ack_token",
    "export_id": "export",
    "evidence_id": "evidence",
    "contact_id": "contact",
    "nonce": "step_up_nonce",
}

# Who has need-to-know on each object of the sweep (cast.case is an evacuation case of the
# Nizhny team: caseworker (lead) and lawyer; FALCON is an adult, BIRCH a minor).
VIEWERS = {
    "case": {"coordinator", "caseworker", "lawyer"},
    # An export request: its requester (the caseworker) and the coordinators who decide on it.
    "export": {"coordinator", "caseworker"},
    # Evidence files follow their case.
    "evidence": {"coordinator", "caseworker", "lawyer"},
    "task": {"coordinator", "caseworker", "lawyer"},
    "entry": {"coordinator", "caseworker", "lawyer"},
    "person:FALCON": {"coordinator", "caseworker", "lawyer", "operator"},
    "person:BIRCH": {"coordinator", "caseworker", "lawyer", "operator"},
    "relative:FALCON": {"coordinator", "caseworker", "lawyer"},
    "relative:BIRCH": {"coordinator", "caseworker"},
    # The log of contacts with a relative follows the relative.
    "contact:FALCON": {"coordinator", "caseworker", "lawyer"},
    "contact:BIRCH": {"coordinator", "caseworker"},
    "user": {"coordinator", "admin"},
    "team": {"coordinator", "admin"},
    "token": {"analyst"},  # a token belongs to its owner only
    # Escalation policies and on-call rotas are the coordinators' to set up.
    "policy": {"coordinator"},
    "step": {"coordinator"},
    "rota": {"coordinator"},
    "rota_member": {"coordinator"},
    "rota_override": {"coordinator"},
    # A notification channel (contact data of staff): its owner, and administrators who help.
    "channel": {"lawyer", "admin"},
    # An emergency about FALCON and BIRCH, linked to their case: the line and the case team.
    "emergency": {"coordinator", "caseworker", "lawyer", "operator"},
    # A call logged without paging (by the operator): the line only.
    "call": {"coordinator", "operator"},
    # A step-up resume nonce lives in one session: anywhere else it is a 404 for everyone.
    "step_up_nonce": set(),
    # A one-time acknowledgement link is its own capability (no login); an unknown one is a 404.
    "ack_token": {
        "coordinator",
        "caseworker",
        "lawyer",
        "outsider",
        "operator",
        "analyst",
        "admin",
    },
}
IDENTITY_READERS = {
    FALCON_NAME: {"coordinator", "caseworker", "lawyer"},
    FALCON_PHONE: {"coordinator", "caseworker", "lawyer"},
    FLAT_ADDRESS: {"coordinator", "caseworker", "lawyer"},
    MOTHER_NAME: {"coordinator", "caseworker", "lawyer"},
    BIRCH_NAME: {"coordinator", "caseworker"},
    BIRCH_PHONE: {"coordinator", "caseworker"},
}


@dataclass(frozen=True)
class Route:
    name: str
    parameters: tuple[str, ...]
    is_api: bool


def _walk(patterns: list[object], namespace: str = "") -> Iterator[Route]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            ns = entry.namespace or ""
            yield from _walk(entry.url_patterns, f"{namespace}{ns}:" if ns else namespace)
        elif isinstance(entry, URLPattern) and entry.name:
            parameters = (
                tuple(entry.pattern.converters) if hasattr(entry.pattern, "converters") else ()
            )
            if not parameters and entry.pattern.regex.groupindex:
                parameters = tuple(entry.pattern.regex.groupindex)
            yield Route(f"{namespace}{entry.name}", parameters, namespace.startswith("api:"))


def all_routes() -> list[Route]:
    routes = {r.name: r for r in _walk(get_resolver().url_patterns)}
    return [
        r
        for r in routes.values()
        if not r.name.startswith(SKIPPED_PREFIXES) and r.name != "set_language"
    ]


def _entity_of(route: Route, parameter: str) -> str:
    if parameter in PARAMETER_ENTITIES:
        return PARAMETER_ENTITIES[parameter]
    pytest.fail(f"{route.name}: the sweep does not know what the URL parameter {parameter!r} names")


@pytest.fixture
def objects(cast):
    relatives = {
        "FALCON": cast.falcon.relatives.get(),
        "BIRCH": RelativeFactory(person=cast.birch, name="Birch Relative Secretova"),
    }
    contacts = {
        variant: relative_contact_log(
            actor=cast.coordinator,
            relative=relative,
            occurred_at=clock.now(),
            channel="phone",
            direction="outgoing",
            summary="Sweep: contact summary",
            follow_up_needed=True,
        )
        for variant, relative in relatives.items()
    }
    return {
        "case": cast.case,
        "task": TaskFactory(case=cast.case, assignee=cast.lawyer),
        "entry": TimelineEntryFactory(case=cast.case),
        "person:FALCON": cast.falcon,
        "person:BIRCH": cast.birch,
        "relative:FALCON": relatives["FALCON"],
        "relative:BIRCH": relatives["BIRCH"],
        "contact:FALCON": contacts["FALCON"],
        "contact:BIRCH": contacts["BIRCH"],
        "user": cast.caseworker,
        "team": Team.objects.get(name="Nizhny team"),
        **_setup_objects(cast),
        "emergency": emergencies.emergency_open_call(
            actor=cast.operator,
            caller=cast.birch,
            heard="Sweep: what was heard",
            location_hint="Sweep: a location hint",
            people=[cast.falcon, cast.birch],
        ),
        "call": calls.call_log(
            actor=cast.operator,
            caller=None,
            heard="Sweep: a silent call",
            location_hint="Sweep: a call's location hint",
            people=[cast.falcon],
        ),
        # Not a live token: the sweep must not acknowledge anything by visiting the link.
        "ack_token": SimpleNamespace(pk="sweep-unknown-ack-token"),
        "step_up_nonce": SimpleNamespace(pk="sweep-unknown-nonce"),  # no session holds it
        "export": export_services.export_request_create(
            actor=cast.caseworker, purpose="Sweep", team=cast.case.team
        ),
        "evidence": evidence_file(case=cast.case, actor=cast.caseworker),
    }


def _setup_objects(cast) -> dict[str, object]:
    """A policy paging a rota's on-call operator, the rota's member and override, and a
    notification channel of the lawyer."""
    now = clock.now()
    rota = OnCallRota.objects.create(name="Sweep rota", starts_on=now - dt.timedelta(days=1))
    policy = EscalationPolicy.objects.create(name="Sweep policy", is_default=True)
    return {
        "policy": policy,
        "step": EscalationStep.objects.create(
            policy=policy, position=0, target=EscalationStep.Target.ON_CALL, rota=rota
        ),
        "rota": rota,
        "rota_member": RotaMember.objects.create(rota=rota, user=cast.operator, position=0),
        "rota_override": RotaOverride.objects.create(
            rota=rota, user=cast.lawyer, starts_at=now, ends_at=now + dt.timedelta(hours=8)
        ),
        "channel": StaffChannel.objects.create(
            user=cast.lawyer, kind=StaffChannel.Kind.EMAIL, target="lawyer@example.org"
        ),
    }


def _token_of(cast) -> uuid.UUID:
    from refuge.accounts.models import ApiToken

    token = ApiToken.objects.create(
        user=cast.analyst, name="sweep", prefix="rfg_sweep", digest="0" * 64
    )
    return token.pk


def _targets(route: Route, objects, cast) -> Iterator[tuple[str, dict[str, object]]]:
    """(need-to-know key, URL kwargs) for each object the route can name."""
    entities = [_entity_of(route, p) for p in route.parameters]
    if not entities:
        yield "", {}
        return
    per_person = {"person", "relative", "contact"}
    variants = ["FALCON", "BIRCH"] if per_person & set(entities) else [""]
    for variant in variants:
        kwargs: dict[str, object] = {}
        key = ""
        for parameter, entity in zip(route.parameters, entities, strict=True):
            lookup = f"{entity}:{variant}" if entity in per_person else entity
            kwargs[parameter] = _token_of(cast) if entity == "token" else objects[lookup].pk
            key = key or lookup
        yield key, kwargs


ROLES = ("coordinator", "caseworker", "lawyer", "outsider", "operator", "analyst", "admin")


@pytest.mark.parametrize("role", ROLES)
def test_every_route_respects_need_to_know(role, cast, objects):
    user = cast.by_role()[role]
    client = Client()
    findings: list[str] = []
    routes = all_routes()
    assert routes, "no routes found"
    for route in routes:
        for key, kwargs in _targets(route, objects, cast):
            url = reverse(route.name, kwargs=kwargs)
            for method in API_METHODS if route.is_api else WEB_METHODS:
                verified_login(client, user)
                response = getattr(client, method)(
                    url,
                    **(
                        {"content_type": "application/json", "data": "{}"}
                        if route.is_api and method != "get"
                        else {}
                    ),
                )
                status = response.status_code
                if status >= 500:
                    findings.append(f"{method.upper()} {url}: server error {status}")
                if key and role not in VIEWERS.get(key, set()) and status not in {404, 405}:
                    findings.append(f"{method.upper()} {url}: {role} got {status}, expected 404")
                raw = (
                    b"".join(response.streaming_content)  # evidence downloads are streamed
                    if response.streaming
                    else response.content
                )
                body = raw.decode("utf-8", errors="replace")
                for secret, readers in IDENTITY_READERS.items():
                    if role not in readers and secret in body:
                        findings.append(f"{method.upper()} {url}: {role} saw {secret!r}")
    assert not findings, "\n".join(findings)


def test_anonymous_visitors_get_nothing(cast, objects):
    client = Client()
    findings = []
    for route in all_routes():
        if route.name == "accounts:login" or route.name.endswith(("openapi-json", "openapi")):
            continue
        for _key, kwargs in _targets(route, objects, cast):
            url = reverse(route.name, kwargs=kwargs)
            response = client.get(url)
            if response.status_code not in {302, 401, 404, 405}:
                findings.append(f"GET {url}: {response.status_code}")
            body = response.content.decode("utf-8", errors="replace")
            findings.extend(f"GET {url}: leaked {s!r}" for s in IDENTITY_READERS if s in body)
    assert not findings, "\n".join(findings)
