"""Protected models are queried only where need-to-know is applied: access.py, selectors.py,
services.py, tasks.py, the demo scenario and migrations. Everything else (views, the API,
commands, templates tags) goes through a selector, which goes through security.access.scope()."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.architecture.rules import (
    PROTECTED_MODELS,
    SRC,
    display,
    may_query_protected,
    protected_queries,
    python_files,
)

BAD_SOURCE = """
from refuge.cases import models
from refuge.cases.models import Case, Task

def case_detail(request, pk):
    case = Case.objects.get(pk=pk)
    tasks = models.Task.objects.filter(case=case)
    also = Task._default_manager.all()
    # Case.objects in a comment is not a query
    return "Relative.objects in a string is not a query either"
"""


def test_no_protected_query_outside_the_gateways() -> None:
    problems = [
        str(violation)
        for path in python_files(SRC, include_migrations=True)
        if not may_query_protected(path.relative_to(SRC))
        for violation in protected_queries(path.read_text("utf-8"), display(path))
    ]
    assert not problems, (
        "fetch protected objects through a selector (security.access.scope):\n"
        + "\n".join(problems)
    )


def test_the_gateways_do_query_protected_models() -> None:
    # Guards the checker: if it found nothing in the files that are allowed to query, it would be
    # finding nothing anywhere.
    access = SRC / "cases" / "access.py"
    assert protected_queries(access.read_text("utf-8"), display(access))


def test_the_checker_reports_managers_of_protected_models() -> None:
    found = protected_queries(BAD_SOURCE, "cases/views.py")
    assert [str(v) for v in found] == [
        "cases/views.py:6: Case.objects",
        "cases/views.py:7: Task.objects",
        "cases/views.py:8: Task._default_manager",
    ]


def test_every_protected_model_is_caught() -> None:
    for model in sorted(PROTECTED_MODELS):
        assert protected_queries(f"{model}.objects.all()\n", "x.py"), model


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("cases/access.py", True),
        ("cases/selectors.py", True),
        ("cases/services.py", True),
        ("cases/services/tasks_due.py", True),
        ("alerts/tasks.py", True),
        ("demo/scenario.py", True),
        ("cases/migrations/0002_x.py", True),
        ("cases/views.py", False),
        ("cases/api.py", False),
        ("demo/management/commands/demo.py", False),
        ("core/web.py", False),
    ],
)
def test_which_files_may_query(path: str, allowed: bool) -> None:
    assert may_query_protected(Path(path)) is allowed
