"""get_<field>_display() of Refuge's models (refuge.core.choices): Django's answer, from labels
looked up once per field and language."""

from __future__ import annotations

import pytest
from django.db import models
from django.utils import translation

from refuge.cases.models import Case, CaseStatus, CaseType
from refuge.core.choices import choice_label


def test_the_label_is_the_one_of_the_active_language():
    case = Case(status=CaseStatus.INTAKE)
    with translation.override("en"):
        assert case.get_status_display() == "Intake"
    with translation.override("ru"):
        assert case.get_status_display() == "Приём"
    with translation.override("en"):
        assert case.get_status_display() == "Intake"


def test_a_value_that_is_no_choice_is_shown_as_it_is():
    assert Case(status="made-up").get_status_display() == "made-up"
    assert Case(status=None).get_status_display() is None


@pytest.mark.parametrize("value", [*CaseType.values, CaseType.LEGAL, "nonsense", ""])
def test_the_label_is_what_django_would_answer(value):
    case = Case(case_type=value)
    field = Case._meta.get_field("case_type")
    for language in ("en", "ru"):
        with translation.override(language):
            assert case.get_case_type_display() == models.Model._get_FIELD_display(case, field)


def test_choices_given_as_a_callable_are_read_on_every_call():
    options = [("a", "First")]
    field = models.CharField(choices=lambda: options)
    assert choice_label(field, "a") == "First"
    options[0] = ("a", "Changed")
    assert choice_label(field, "a") == "Changed"
