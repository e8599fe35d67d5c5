"""Every environment variable the settings read is documented in README.md and .env.example."""

from __future__ import annotations

from tests.architecture.rules import (
    REPO,
    SETTINGS,
    display,
    env_names_read,
    undocumented_env,
)

BAD_SETTINGS = """
import os
from refuge.core.env import env_bool, env_secret, env_str

DEBUG = env_bool("REFUGE_DEBUG")
SECRET_KEY = env_secret("REFUGE_SECRET_KEY")
NEW = env_str("REFUGE_NEW_THING", "x")
RAW = os.environ.get("REFUGE_RAW")
RAW2 = os.environ["REFUGE_RAW2"]
NAME = "REFUGE_" + "DYNAMIC"
DYNAMIC = env_str(NAME)
"""

README = "Set REFUGE_DEBUG=1. REFUGE_SECRET_KEY or REFUGE_SECRET_KEY_FILE. REFUGE_RAW, REFUGE_RAW2."
ENV_EXAMPLE = """# comment
REFUGE_DEBUG=0
# REFUGE_SECRET_KEY=
#REFUGE_SECRET_KEY_FILE=/etc/refuge/secret_key
REFUGE_RAW=
REFUGE_RAW2=
# REFUGE_NEW_THING is mentioned in a comment only, which is not a line for it
"""


def _settings_names() -> set[str]:
    names, unreadable = env_names_read(SETTINGS.read_text("utf-8"), display(SETTINGS))
    assert not unreadable, "\n".join(str(v) for v in unreadable)
    return names


def test_every_variable_read_by_the_settings_is_documented() -> None:
    readme = (REPO / "README.md").read_text("utf-8")
    env_example = (REPO / ".env.example").read_text("utf-8")
    problems = undocumented_env(_settings_names(), readme, env_example)
    assert not problems, "\n".join(problems)


def test_the_settings_read_the_variables_we_expect() -> None:
    # Guards the parser: if it stopped seeing env_* calls, the test above would pass vacuously.
    assert {
        "REFUGE_DEMO",
        "REFUGE_SECRET_KEY",
        "REFUGE_SECRET_KEY_FILE",
        "REFUGE_DATABASE_URL",
        "REFUGE_WORKER_POLL_SECONDS",
    } <= _settings_names()


def test_the_parser_finds_helpers_os_environ_and_file_variants() -> None:
    names, unreadable = env_names_read(BAD_SETTINGS, "settings.py")
    assert names == {
        "REFUGE_DEBUG",
        "REFUGE_SECRET_KEY",
        "REFUGE_SECRET_KEY_FILE",
        "REFUGE_NEW_THING",
        "REFUGE_RAW",
        "REFUGE_RAW2",
    }
    assert [str(v) for v in unreadable] == ["settings.py:11: variable name is not a literal"]


def test_the_checker_reports_missing_documentation() -> None:
    names, _ = env_names_read(BAD_SETTINGS, "settings.py")
    assert undocumented_env(names, README, ENV_EXAMPLE) == [
        "REFUGE_NEW_THING is not mentioned in README.md",
        "REFUGE_NEW_THING has no line in .env.example",
    ]


def test_a_longer_name_does_not_document_a_shorter_one() -> None:
    problems = undocumented_env(
        {"REFUGE_SECRET_KEY"}, "REFUGE_SECRET_KEY_FILE", "REFUGE_SECRET_KEY_FILE=/x\n"
    )
    assert problems == [
        "REFUGE_SECRET_KEY is not mentioned in README.md",
        "REFUGE_SECRET_KEY has no line in .env.example",
    ]
