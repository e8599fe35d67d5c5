"""The need-to-know matrix over every endpoint that addresses a person, relative, case or task:
team members and coordinators are allowed; outsiders and admins get 404, as if nothing were
there, and nothing changes."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from refuge.cases.models import Task
from refuge.core import clock
from refuge.people.models import ProtectedPerson, Relative
from tests.api.conftest import audit_count
from tests.conftest import Cast
from tests.factories import TaskFactory


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    body: Any = None
    ok: int = 200


def _mother(cast: Cast) -> Relative:
    return Relative.objects.get(person=cast.falcon)


def _task(cast: Cast, *, done: bool = False) -> Task:
    return TaskFactory(case=cast.case, done_at=clock.now() if done else None)


ENDPOINTS: dict[str, Callable[[Cast], Call]] = {
    "GET people/{id}": lambda c: Call("GET", f"people/{c.falcon.pk}"),
    "GET people/{id}/identity": lambda c: Call("GET", f"people/{c.falcon.pk}/identity"),
    "PATCH people/{id}": lambda c: Call("PATCH", f"people/{c.falcon.pk}", {"risk_level": "low"}),
    "GET people/{id}/relatives": lambda c: Call("GET", f"people/{c.falcon.pk}/relatives"),
    "POST people/{id}/relatives": lambda c: Call(
        "POST", f"people/{c.falcon.pk}/relatives", {"relation": "father", "name": "F"}, 201
    ),
    "PATCH relatives/{id}": lambda c: Call(
        "PATCH", f"relatives/{_mother(c).pk}", {"risk_level": "critical"}
    ),
    "DELETE relatives/{id}": lambda c: Call("DELETE", f"relatives/{_mother(c).pk}", ok=204),
    "GET cases/{id}": lambda c: Call("GET", f"cases/{c.case.pk}"),
    "PATCH cases/{id}": lambda c: Call("PATCH", f"cases/{c.case.pk}", {"risk_level": "low"}),
    "POST cases/{id}/transition": lambda c: Call(
        "POST", f"cases/{c.case.pk}/transition", {"status": "verification"}
    ),
    "GET cases/{id}/timeline": lambda c: Call("GET", f"cases/{c.case.pk}/timeline"),
    "POST cases/{id}/timeline": lambda c: Call(
        "POST", f"cases/{c.case.pk}/timeline", {"kind": "call", "text": "Checked in"}, 201
    ),
    "GET cases/{id}/tasks": lambda c: Call("GET", f"cases/{c.case.pk}/tasks"),
    "POST cases/{id}/tasks": lambda c: Call(
        "POST", f"cases/{c.case.pk}/tasks", {"title": "Buy tickets"}, 201
    ),
    "POST tasks/{id}/complete": lambda c: Call("POST", f"tasks/{_task(c).pk}/complete"),
    "POST tasks/{id}/reopen": lambda c: Call("POST", f"tasks/{_task(c, done=True).pk}/reopen"),
}
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
WRITES = [name for name in ENDPOINTS if not name.startswith("GET")]
WITHOUT_BODY = {"DELETE relatives/{id}", "POST tasks/{id}/complete", "POST tasks/{id}/reopen"}
WRITES_WITH_BODY = [name for name in WRITES if name not in WITHOUT_BODY]


def _call(api: Any, call: Call) -> Any:
    return api.request(call.method, call.path, call.body)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("role", ["lawyer", "caseworker", "coordinator"])
def test_the_team_and_coordinators_are_allowed(cast, api_as, role, endpoint):
    call = ENDPOINTS[endpoint](cast)
    response = _call(api_as(cast.by_role()[role]), call)
    assert response.status_code == call.ok, response.content


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("role", ["outsider", "admin"])
def test_outsiders_and_admins_get_404(cast, api_as, role, endpoint):
    response = _call(api_as(cast.by_role()[role]), ENDPOINTS[endpoint](cast))
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


@pytest.mark.parametrize("endpoint", WRITES)
def test_a_refused_write_changes_nothing(cast, api_as, endpoint):
    api = api_as(cast.outsider)
    call = ENDPOINTS[endpoint](cast)
    before = audit_count()
    _call(api, call)
    assert audit_count() == before


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_missing_object_is_the_same_404(cast, api_as, endpoint):
    call = ENDPOINTS[endpoint](cast)
    missing = Call(call.method, UUID_RE.sub(str(uuid.uuid4()), call.path), call.body)
    response = _call(api_as(cast.coordinator), missing)
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


@pytest.mark.parametrize("resource", ["people", "cases"])
@pytest.mark.parametrize("role", ["outsider", "admin"])
def test_lists_show_outsiders_and_admins_nothing(cast, api_as, role, resource):
    body = api_as(cast.by_role()[role]).get(resource).json()
    assert body == {"items": [], "count": 0, "page": 1, "pages": 1}


@pytest.mark.parametrize("role", ["lawyer", "caseworker", "coordinator"])
def test_the_people_list_shows_the_team_its_people(cast, api_as, role):
    body = api_as(cast.by_role()[role]).get("people").json()
    assert [p["pseudonym"] for p in body["items"]] == ["BIRCH", "FALCON"]


@pytest.mark.parametrize("role", ["lawyer", "caseworker", "coordinator"])
def test_the_case_list_shows_the_team_its_case(cast, api_as, role):
    body = api_as(cast.by_role()[role]).get("cases").json()
    assert [c["code"] for c in body["items"]] == [cast.case.code]


def test_an_operator_sees_a_person_by_pseudonym(cast, api_as):
    assert api_as(cast.operator).get(f"people/{cast.falcon.pk}").status_code == 200


def test_an_operator_does_not_see_an_identity(cast, api_as):
    assert api_as(cast.operator).get(f"people/{cast.falcon.pk}/identity").status_code == 404


def test_an_operator_cannot_change_a_person_outside_emergency_cases(cast, api_as):
    response = api_as(cast.operator).patch(f"people/{cast.falcon.pk}", {"risk_level": "low"})
    assert response.status_code == 404
    assert ProtectedPerson.objects.get(pk=cast.falcon.pk).risk_level != "low"


def test_an_analyst_does_not_see_a_non_documentation_case(cast, api_as):
    assert api_as(cast.analyst).get(f"cases/{cast.case.pk}").status_code == 404


@pytest.mark.parametrize("endpoint", WRITES_WITH_BODY)
def test_outsiders_get_404_before_their_input_is_judged(cast, api_as, endpoint):
    call = ENDPOINTS[endpoint](cast)
    response = api_as(cast.outsider).request(call.method, call.path, {"bogus": 1})
    assert response.status_code == 404


@pytest.mark.parametrize("endpoint", WRITES_WITH_BODY)
def test_the_team_gets_422_for_the_same_input(cast, api_as, endpoint):
    call = ENDPOINTS[endpoint](cast)
    response = api_as(cast.lawyer).request(call.method, call.path, {"bogus": 1})
    assert response.status_code == 422


def test_outsiders_get_404_for_an_unreadable_body(cast, api_as):
    response = api_as(cast.outsider).post(f"cases/{cast.case.pk}/transition", raw="{nope")
    assert response.status_code == 404


def test_someone_who_may_see_but_not_change_gets_404_before_input_is_judged(cast, api_as):
    # Operators see every person by pseudonym but act only on those on emergency cases.
    response = api_as(cast.operator).patch(f"people/{cast.falcon.pk}", {"risk_level": "bogus"})
    assert response.status_code == 404
