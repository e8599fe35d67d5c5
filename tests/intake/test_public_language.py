"""The language of the protected people's pages where nobody is identified: REFUGE_PUBLIC_LANGUAGE,
never the browser's Accept-Language (Tor Browser sends the same one for everyone)."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from refuge.intake import inbound
from refuge.people.models import ProtectedPerson
from tests.conftest import Cast

pytestmark = pytest.mark.django_db


def _bad_link() -> str:
    return f"/c/{secrets.token_urlsafe(32)}/"


def test_a_bad_link_gets_the_neutral_page_in_the_public_language(client: Client, settings):
    settings.PUBLIC_LANGUAGE = "ru"
    response = client.get(_bad_link(), HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.5")
    assert response.status_code == 404
    assert response["Content-Language"] == "ru"
    html = response.content.decode()
    assert '<html lang="ru">' in html
    assert "<title>Заметки</title>" in html
    assert "Не найдено." in html
    assert "Not found" not in html


def test_every_bad_link_gets_the_same_bytes_whatever_the_browser_says(client: Client, settings):
    settings.PUBLIC_LANGUAGE = "ru"
    pages = [
        client.get(_bad_link(), HTTP_ACCEPT_LANGUAGE=language).content
        for language in ("en", "ru", "de", "")
    ]
    pages.append(client.post(_bad_link(), {"action": "sos"}, HTTP_ACCEPT_LANGUAGE="en").content)
    assert len(set(pages)) == 1


def test_the_public_language_can_be_english(client: Client, settings):
    settings.PUBLIC_LANGUAGE = "en"
    response = client.get(_bad_link(), HTTP_ACCEPT_LANGUAGE="ru")
    assert response["Content-Language"] == "en"
    assert "Not found." in response.content.decode()


def test_a_person_whose_languages_the_site_does_not_speak_gets_the_public_language(
    cast: Cast, settings
):
    settings.LANGUAGE_CODE = "en"
    settings.PUBLIC_LANGUAGE = "ru"
    ProtectedPerson.objects.filter(pk=cast.falcon.pk).update(languages="ce")
    cast.falcon.refresh_from_db()
    assert inbound.person_language(cast.falcon) == "ru"
    assert inbound.site_language(None) == "ru"
    assert inbound.site_language("en-GB") == "en"


def _settings_value(var_dir: Path, **environment: str) -> subprocess.CompletedProcess[str]:
    """PUBLIC_LANGUAGE as a fresh process reads it from this environment."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("REFUGE_", "DJANGO_"))
    }
    env.update(REFUGE_DEBUG="1", REFUGE_VAR_DIR=str(var_dir))
    env.update(environment)
    code = "import refuge.config.settings as s; print(s.PUBLIC_LANGUAGE)"
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )


def test_the_setting_defaults_to_the_interface_language_and_to_russian_in_the_demo(
    tmp_path: Path,
):
    assert _settings_value(tmp_path).stdout.strip() == "en"
    assert _settings_value(tmp_path, REFUGE_LANGUAGE_CODE="ru").stdout.strip() == "ru"
    assert _settings_value(tmp_path, REFUGE_DEMO="1").stdout.strip() == "ru"
    english_demo = _settings_value(tmp_path, REFUGE_DEMO="1", REFUGE_PUBLIC_LANGUAGE="en")
    assert english_demo.stdout.strip() == "en"


def test_an_unknown_public_language_is_refused_at_start_up(tmp_path: Path):
    result = _settings_value(tmp_path, REFUGE_PUBLIC_LANGUAGE="fr")
    assert result.returncode != 0
    assert "REFUGE_PUBLIC_LANGUAGE must be 'en' or 'ru'." in result.stderr
