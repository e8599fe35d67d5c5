"""The import-linter contracts in pyproject.toml hold (lint-imports exits 0), every app is in the
layers contract, and lint-imports does fail on a broken layer."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

from tests.architecture.rules import REPO, SRC, apps_in_tree

LINT_IMPORTS = Path(sys.prefix) / "bin" / "lint-imports"


def _lint_imports(*args: str, cwd: Path, pythonpath: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_lint_imports_passes() -> None:
    result = _lint_imports(cwd=REPO, pythonpath=REPO / "src")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_every_app_is_a_layer() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))
    layered = {
        layer
        for contract in config["tool"]["importlinter"]["contracts"]
        if contract["type"] == "layers"
        for layer in contract["layers"]
    }
    missing = {f"refuge.{app}" for app in apps_in_tree(SRC)} - layered
    assert not missing, f"add these apps to the layers contract in pyproject.toml: {missing}"


def test_lint_imports_fails_when_a_lower_layer_imports_a_higher_one(tmp_path: Path) -> None:
    package = tmp_path / "layered"
    for name in ("high", "low"):
        (package / name).mkdir(parents=True)
        (package / name / "__init__.py").write_text("", encoding="utf-8")
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "low" / "models.py").write_text("from layered.high import x\n", encoding="utf-8")
    (tmp_path / ".importlinter").write_text(
        "[importlinter]\nroot_package = layered\n\n"
        "[importlinter:contract:layers]\nname = Layers\ntype = layers\n"
        "layers =\n    layered.high\n    layered.low\n",
        encoding="utf-8",
    )

    result = _lint_imports(cwd=tmp_path, pythonpath=tmp_path)

    assert result.returncode != 0, result.stdout + result.stderr
    assert "BROKEN" in result.stdout
    assert "layered.low.models -> layered.high" in result.stdout
