"""docs/architecture.md names every Django app under src/refuge, and only those."""

from __future__ import annotations

import tomllib
from pathlib import Path

from tests.architecture.rules import (
    ARCHITECTURE_DOC,
    REPO,
    SRC,
    apps_in_doc,
    apps_in_tree,
    arrows_in_doc,
    compare_apps,
)

SYNTHETIC_DOC = """# Architecture

## Apps

- `core` — the kernel.
- `ghost` — an app that was removed from the tree.

## Data flow

- `notanapp` is not in the Apps section, so it is not read.
"""


def test_every_app_has_a_line_and_every_line_an_app() -> None:
    problems = compare_apps(apps_in_tree(SRC), apps_in_doc(ARCHITECTURE_DOC.read_text("utf-8")))
    assert not problems, "\n".join(problems)


def test_the_tree_has_apps_and_the_doc_lists_them() -> None:
    # Guards the checker itself: an empty tree or an unparsed doc would compare equal.
    assert {"core", "security", "cases"} <= apps_in_tree(SRC)
    assert {"core", "security", "cases"} <= set(apps_in_doc(ARCHITECTURE_DOC.read_text("utf-8")))


def test_the_checker_reports_a_missing_line_and_a_stale_line(tmp_path: Path) -> None:
    for name in ("core", "cases"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "apps.py").write_text("", encoding="utf-8")
    (tmp_path / "config").mkdir()  # a package without apps.py is not an app

    tree = apps_in_tree(tmp_path)
    problems = compare_apps(tree, apps_in_doc(SYNTHETIC_DOC))

    assert tree == {"core", "cases"}
    assert problems == [
        "app `cases` has no line in docs/architecture.md",
        "docs/architecture.md names `ghost`, which is not an app under src/refuge",
    ]


def test_the_checker_reports_a_duplicate_line() -> None:
    problems = compare_apps({"core"}, apps_in_doc("## Apps\n- `core` a\n- `core` b\n"))
    assert problems == ["docs/architecture.md lists `core` more than once"]


def test_the_arrows_in_the_doc_follow_the_import_layers() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    layers = next(c["layers"] for c in contracts if c["type"] == "layers")
    apps_bottom_up = [
        layer.removeprefix("refuge.") for layer in reversed(layers) if layer != "refuge.config"
    ]

    arrows = arrows_in_doc(ARCHITECTURE_DOC.read_text("utf-8"))

    assert apps_bottom_up in arrows, (
        f"docs/architecture.md should draw `{' ← '.join(apps_bottom_up)}` "
        f"(the layers in pyproject.toml); it draws {arrows}"
    )


def test_the_arrow_parser_reads_a_chain() -> None:
    assert arrows_in_doc("text\n    core ← security ← cases\nmore") == [
        ["core", "security", "cases"]
    ]
