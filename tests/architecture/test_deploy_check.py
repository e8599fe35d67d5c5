"""`refuge check --deploy` passes with production settings: no warning, no error."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

REFUGE = str(Path(sys.executable).with_name("refuge"))


def _production_env(var_dir: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("REFUGE_") and k not in {"DATABASE_URL", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(
        {
            "REFUGE_SECRET_KEY": secrets.token_urlsafe(50),
            "REFUGE_VAR_DIR": str(var_dir),
            "REFUGE_ALLOWED_HOSTS": "refuge.example.org",
            "REFUGE_CSRF_TRUSTED_ORIGINS": "https://refuge.example.org",
            "REFUGE_BEHIND_TLS_PROXY": "1",
        }
    )
    return env


def test_the_production_configuration_passes_the_deploy_check(tmp_path):
    result = subprocess.run(
        [REFUGE, "check", "--deploy", "--fail-level", "WARNING"],
        env=_production_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


PRINT_SETTINGS = (
    "from django.conf import settings as s; "
    "print(s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.SECURE_HSTS_SECONDS)"
)


def test_plain_http_is_redirected_in_production(tmp_path):
    result = subprocess.run(
        [REFUGE, "shell", "-v", "0", "-c", PRINT_SETTINGS],
        env=_production_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert result.stdout.split() == ["True", "True", "31536000"]
