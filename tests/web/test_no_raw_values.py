"""No stored enum value ("in_person", "evacuation", "email") reaches the main pages raw: every
one is shown through its translated label, in English and in Russian."""

from __future__ import annotations

import html
import re

import pytest
from django.apps import apps
from django.urls import reverse

from refuge.accounts.models import Team
from refuge.cases import services as case_services
from refuge.core import clock
from refuge.people.models import ContactChannel, ContactDirection
from refuge.people.services import contacts
from tests.factories import TaskFactory

pytestmark = pytest.mark.django_db

_INVISIBLE = [
    re.compile(r"<(script|style|template)\b.*?</\1>", re.DOTALL),
    re.compile(r"<[^>]*>", re.DOTALL),
]


def visible_text(page: str) -> str:
    for pattern in _INVISIBLE:
        page = pattern.sub(" ", page)
    return html.unescape(page)


def stored_values(skip: set[str]) -> set[str]:
    """Every value of a `choices` field of Refuge's models, less `skip`."""
    values: set[str] = set()
    for model in apps.get_models():
        if not model.__module__.startswith("refuge."):
            continue
        for field in model._meta.get_fields():
            for value, _label in getattr(field, "choices", None) or ():
                if isinstance(value, str) and len(value) > 1:
                    values.add(value)
    return values - skip


def raw_values_in(text: str, values: set[str], *, language: str) -> list[str]:
    # English labels often are the value capitalised ("High" for "high"), so in English only the
    # values no label looks like are checked (those with "_"); in Russian any of them is raw.
    wanted = values if language == "ru" else {v for v in values if "_" in v}
    return sorted(v for v in wanted if re.search(rf"(?<![\w/-]){re.escape(v)}(?![\w/-])", text))


@pytest.fixture
def busy_case(cast):
    """The case with a note, a call, a status change, a task and a contact with FALCON's mother
    over each channel, so every label has a chance to appear."""
    case_services.timeline_add(
        actor=cast.caseworker, case=cast.case, kind="note", text="Всё спокойно"
    )
    case_services.timeline_add(actor=cast.lawyer, case=cast.case, kind="call", text="Звонок")
    case_services.case_transition(actor=cast.caseworker, case=cast.case, to_status="verification")
    TaskFactory(case=cast.case, title="Позвонить адвокату", assignee=cast.caseworker)
    mother = cast.falcon.relatives.get()
    for channel in ContactChannel.values:
        contacts.relative_contact_log(
            actor=cast.caseworker,
            relative=mother,
            occurred_at=clock.now(),
            channel=channel,
            direction=ContactDirection.INCOMING,
            summary="Разговор",
            follow_up_needed=True,
        )
    return cast.case


def pages(cast) -> list[tuple[object, str]]:
    return [
        (cast.caseworker, reverse("cases:dashboard")),
        (cast.caseworker, reverse("cases:list")),
        (cast.caseworker, reverse("cases:detail", args=[cast.case.pk])),
        (cast.caseworker, reverse("people:list")),
        (cast.caseworker, reverse("people:detail", args=[cast.falcon.pk])),
        (cast.caseworker, reverse("exports:export_list")),
        (cast.coordinator, reverse("cases:dashboard")),
        (cast.coordinator, reverse("accounts:user_list")),
        (cast.coordinator, reverse("accounts:team_list")),
    ]


@pytest.mark.usefixtures("busy_case")
@pytest.mark.parametrize("language", ["en", "ru"])
def test_the_main_pages_show_labels_never_stored_values(cast, login, language):
    # Names people gave things ("Nizhny team", "caseworker") are data, not stored values.
    names = {user.get_username() for user in cast.by_role().values()}
    names |= {word for team in Team.objects.all() for word in team.name.split()}
    values = stored_values(skip=names)
    findings = []
    for user, url in pages(cast):
        response = login(user).get(url, headers={"Accept-Language": language})
        assert response.status_code == 200, url
        found = raw_values_in(visible_text(response.content.decode()), values, language=language)
        findings.extend(f"{user} {url}: {value}" for value in found)
    assert not findings, "\n".join(findings)


def test_the_checker_finds_a_raw_value():
    values = {"in_person", "email"}
    assert raw_values_in("Канал: email", values, language="ru") == ["email"]
    assert raw_values_in("Channel: in_person", values, language="en") == ["in_person"]
    assert raw_values_in("Channel: e-mail", values, language="en") == []
