"""Migrations import Django, the standard library and refuge.security.fields only: a migration
that imports app code breaks when that code changes later (house style 9.8)."""

from __future__ import annotations

from tests.architecture.rules import (
    SRC,
    display,
    is_migration,
    migration_imports,
    python_files,
)

BAD_SOURCE = """
import uuid
import django.db.models.deletion
import refuge.security.fields
from django.db import migrations, models
from refuge.security import fields
from refuge.people.models import RiskLevel
from refuge.security import audit, fields as f2
import refuge.cases.services
import nacl.utils
from . import helpers
from .helpers import thing

def forwards(apps, schema_editor):
    from refuge.security.crypto import get_crypto
"""


def test_migrations_import_only_django_stdlib_and_the_field_module() -> None:
    migrations = [p for p in python_files(SRC, include_migrations=True) if is_migration(p)]
    problems = [
        str(violation)
        for path in migrations
        for violation in migration_imports(path.read_text("utf-8"), display(path))
    ]
    assert migrations, "no migrations found: the checker is looking in the wrong place"
    assert not problems, "use apps.get_model() in migrations:\n" + "\n".join(problems)


def test_the_checker_reports_project_third_party_and_relative_imports() -> None:
    found = migration_imports(BAD_SOURCE, "0003_bad.py")
    assert [(v.line, v.text) for v in found] == [
        (7, "from refuge.people.models import RiskLevel"),
        (8, "from refuge.security import audit"),
        (9, "import refuge.cases.services"),
        (10, "import nacl.utils"),
        (11, "from . import ..."),
        (12, "from .helpers import ..."),
        (15, "from refuge.security.crypto import get_crypto"),
    ]
