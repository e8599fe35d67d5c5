"""Modules stay under 500 lines; a longer one becomes a package (house style 9.2)."""

from __future__ import annotations

from pathlib import Path

from tests.architecture.rules import MAX_MODULE_LINES, SRC, oversized_modules


def test_no_module_is_longer_than_the_limit() -> None:
    problems = oversized_modules(SRC)
    assert not problems, "split these modules into packages:\n" + "\n".join(problems)


def test_the_checker_reports_a_long_module_and_skips_migrations(tmp_path: Path) -> None:
    (tmp_path / "app" / "migrations").mkdir(parents=True)
    (tmp_path / "app" / "short.py").write_text("x = 1\n" * MAX_MODULE_LINES, encoding="utf-8")
    (tmp_path / "app" / "long.py").write_text("x = 1\n" * (MAX_MODULE_LINES + 1), "utf-8")
    (tmp_path / "app" / "migrations" / "0001_initial.py").write_text("x = 1\n" * 2000, "utf-8")

    problems = oversized_modules(tmp_path)

    assert len(problems) == 1
    assert problems[0].endswith(f"long.py: {MAX_MODULE_LINES + 1} lines (limit {MAX_MODULE_LINES})")
