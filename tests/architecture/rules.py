"""Checkers behind the architecture tests.

Each checker takes source text (or a directory) and returns what breaks the rule, so the tests can
run it on the real tree and on a small synthetic bad input: a checker that never finds anything
would otherwise pass forever.
"""

from __future__ import annotations

import ast
import re
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SRC = REPO / "src" / "refuge"
ARCHITECTURE_DOC = REPO / "docs" / "architecture.md"
SETTINGS = SRC / "config" / "settings.py"
CLOCK = SRC / "core" / "clock.py"

MAX_MODULE_LINES = 500


@dataclass(frozen=True)
class Violation:
    path: str
    line: int
    text: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.text}"


def display(path: Path) -> str:
    """A path relative to the repository when it lies inside it (shorter failure messages)."""
    try:
        return str(path.relative_to(REPO))
    except ValueError:
        return str(path)


def is_migration(path: Path) -> bool:
    return "migrations" in path.parts


def python_files(root: Path, *, include_migrations: bool) -> Iterator[Path]:
    for path in sorted(root.rglob("*.py")):
        if include_migrations or not is_migration(path):
            yield path


def parse(source: str, filename: str) -> ast.Module:
    # Old escape sequences in a migration would raise SyntaxWarning, which -W error turns fatal.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)
        return ast.parse(source, filename=filename)


def _terminal_name(node: ast.expr) -> str | None:
    """`Case` for `Case` and for `models.Case`; None for anything else."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


# --- docs/architecture.md lists every app ---------------------------------------------------------

_APP_LINE = re.compile(r"^- `([a-z_][a-z0-9_.]*)`")


def apps_in_tree(root: Path) -> set[str]:
    """Every Django app under `root`, named by its dotted path below it (`core`, `cases`)."""
    return {".".join(p.parent.relative_to(root).parts) for p in root.rglob("apps.py")}


def apps_in_doc(markdown: str) -> list[str]:
    """Apps listed as "- `name` ..." lines in the "## Apps" section."""
    names: list[str] = []
    in_section = False
    for line in markdown.splitlines():
        if line.startswith("## "):
            in_section = line.strip() == "## Apps"
            continue
        match = _APP_LINE.match(line) if in_section else None
        if match:
            names.append(match.group(1))
    return names


def compare_apps(tree: set[str], documented: list[str]) -> list[str]:
    problems = [
        f"app `{name}` has no line in docs/architecture.md"
        for name in sorted(tree)
        if name not in documented
    ]
    problems += [
        f"docs/architecture.md names `{name}`, which is not an app under src/refuge"
        for name in documented
        if name not in tree
    ]
    problems += [
        f"docs/architecture.md lists `{name}` more than once"
        for name in sorted(set(documented))
        if documented.count(name) > 1
    ]
    return problems


_ARROWS = re.compile(r"^\s*(\w+(?:\s*←\s*\w+)+)\s*$", re.MULTILINE)


def arrows_in_doc(markdown: str) -> list[list[str]]:
    """Every "a ← b ← c" line (read: b imports a, c imports b)."""
    return [
        [part.strip() for part in match.group(1).split("←")] for match in _ARROWS.finditer(markdown)
    ]


# --- module size ---------------------------------------------------------------------------------


def count_lines(source: str) -> int:
    return len(source.splitlines())


def oversized_modules(root: Path, limit: int = MAX_MODULE_LINES) -> list[str]:
    return [
        f"{display(path)}: {lines} lines (limit {limit})"
        for path in python_files(root, include_migrations=False)
        if (lines := count_lines(path.read_text(encoding="utf-8"))) > limit
    ]


# --- the wall clock is read in core/clock.py only -------------------------------------------------

_CLOCK_READS = {
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("datetime", "today"),
    ("date", "today"),
    ("timezone", "now"),
}


_CLOCK_OWNERS = {"datetime": {"datetime", "date"}, "django.utils": {"timezone"}}


def _clock_aliases(tree: ast.Module) -> dict[str, str]:
    """`from datetime import datetime as DT` makes `DT` mean `datetime`."""
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in _CLOCK_OWNERS:
            for alias in node.names:
                if alias.asname and alias.name in _CLOCK_OWNERS[node.module]:
                    aliases[alias.asname] = alias.name
    return aliases


def clock_reads(source: str, filename: str) -> list[Violation]:
    """Calls such as `datetime.now()`, `dt.datetime.utcnow()`, `timezone.now()`, `date.today()`
    (also under an import alias), and `from django.utils.timezone import now`, which hides the
    call behind a bare name. Sorted by line."""
    tree = parse(source, filename)
    aliases = _clock_aliases(tree)
    found: list[Violation] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            name = _terminal_name(node.func.value)
            owner = aliases.get(name, name) if name else None
            if (owner, node.func.attr) in _CLOCK_READS:
                found.append(Violation(filename, node.lineno, f"{owner}.{node.func.attr}()"))
        elif isinstance(node, ast.ImportFrom) and node.module == "django.utils.timezone":
            found.extend(
                Violation(filename, node.lineno, "imports django.utils.timezone.now")
                for alias in node.names
                if alias.name == "now"
            )
    return sorted(found, key=lambda v: v.line)


# --- protected models are queried only in access, selectors, services, tasks, scenario ----------

PROTECTED_MODELS = frozenset(
    {
        "ProtectedPerson",
        "Relative",
        "RelativeContact",
        "Case",
        "TimelineEntry",
        "Task",
        "EvidenceFile",
        "ExportRequest",
    }
)
MANAGERS = frozenset({"objects", "_default_manager", "_base_manager"})
QUERY_MODULES = frozenset({"access", "selectors", "services", "tasks", "scenario"})


def may_query_protected(relative: Path) -> bool:
    """For a path relative to src/refuge: access.py, selectors.py, services.py, tasks.py,
    scenario.py (or a module inside a package of one of those names, e.g. services/checkins.py,
    once a module outgrows 500 lines), and migrations."""
    if is_migration(relative) or relative.stem in QUERY_MODULES:
        return True
    return any(part in QUERY_MODULES for part in relative.parts[:-1])


def protected_queries(source: str, filename: str) -> list[Violation]:
    """`Case.objects`, `models.Case.objects`, `Case._default_manager`, ... in code."""
    found: list[Violation] = []
    for node in ast.walk(parse(source, filename)):
        if isinstance(node, ast.Attribute) and node.attr in MANAGERS:
            model = _terminal_name(node.value)
            if model in PROTECTED_MODELS:
                found.append(Violation(filename, node.lineno, f"{model}.{node.attr}"))
    return sorted(found, key=lambda v: v.line)


# --- migrations import django, the standard library and refuge.security.fields only -------------

ALLOWED_PROJECT_MODULE = "refuge.security.fields"


def _allowed_module(module: str) -> bool:
    top = module.partition(".")[0]
    return top == "django" or top in sys.stdlib_module_names or module == ALLOWED_PROJECT_MODULE


def migration_imports(source: str, filename: str) -> list[Violation]:
    found: list[Violation] = []
    for node in ast.walk(parse(source, filename)):
        if isinstance(node, ast.Import):
            found.extend(
                Violation(filename, node.lineno, f"import {alias.name}")
                for alias in node.names
                if not _allowed_module(alias.name)
            )
        elif isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            if node.level:
                found.append(Violation(filename, node.lineno, f"from {module} import ..."))
            elif not _allowed_module(module):
                # `from refuge.security import fields` names the allowed module too.
                bad = [a.name for a in node.names if f"{module}.{a.name}" != ALLOWED_PROJECT_MODULE]
                if bad:
                    found.append(
                        Violation(filename, node.lineno, f"from {module} import {', '.join(bad)}")
                    )
    return sorted(found, key=lambda v: v.line)


# --- every environment variable read by the settings is documented ------------------------------

ENV_READERS = frozenset({"env_bool", "env_int", "env_list", "env_path", "env_secret", "env_str"})


def _is_os_environ(node: ast.expr) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "environ"


def _env_call_name(node: ast.Call) -> str | None:
    """The reader's name if `node` reads an environment variable, else None."""
    reader = _terminal_name(node.func)
    if reader in ENV_READERS or reader == "getenv":
        return reader
    if isinstance(node.func, ast.Attribute) and node.func.attr == "get":
        return "environ.get" if _is_os_environ(node.func.value) else None
    return None


def env_names_read(source: str, filename: str) -> tuple[set[str], list[Violation]]:
    """Names read through the env_* helpers or os.environ, and reads whose name is not a literal
    (those cannot be checked, so they are reported)."""
    names: set[str] = set()
    unreadable: list[Violation] = []
    for node in ast.walk(parse(source, filename)):
        key: ast.expr | None = None
        reader = None
        if isinstance(node, ast.Call) and (reader := _env_call_name(node)) and node.args:
            key = node.args[0]
        elif isinstance(node, ast.Subscript) and _is_os_environ(node.value):
            key = node.slice
        if key is None:
            continue
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            names.add(key.value)
            if reader == "env_secret":
                names.add(key.value + "_FILE")
        else:
            unreadable.append(Violation(filename, node.lineno, "variable name is not a literal"))
    return names, unreadable


def undocumented_env(names: set[str], readme: str, env_example: str) -> list[str]:
    problems: list[str] = []
    for name in sorted(names):
        if not re.search(rf"(?<![\w]){re.escape(name)}(?![\w])", readme):
            problems.append(f"{name} is not mentioned in README.md")
        if not re.search(rf"(?m)^#?\s*{re.escape(name)}=", env_example):
            problems.append(f"{name} has no line in .env.example")
    return problems
