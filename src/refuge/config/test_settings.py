"""Test settings: only what tests need differs from production settings."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

_TEST_VAR = Path(tempfile.mkdtemp(prefix="refuge-test-"))
os.environ.setdefault("REFUGE_VAR_DIR", str(_TEST_VAR))
os.environ.setdefault("REFUGE_SECRET_KEY", "test-secret-key-not-for-production-" + "x" * 20)

from refuge.config.settings import *  # noqa: E402, F403
from refuge.config.settings import DATABASES, STATIC_ROOT  # noqa: E402

# Argon2 at full strength makes a test suite crawl; tests check *which* hasher is used.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# The test client speaks plain HTTP; production's redirect to HTTPS is tested explicitly.
SECURE_SSL_REDIRECT = False
KEY_FILE = _TEST_VAR / "keys" / "master.key"
# Tests use the key file unless they start a keyd (tests/security/test_keyd*.py).
KEY_MODE = "keyfile"
PIN_KEY_FILE = _TEST_VAR / "keys" / "pin.key"
if DATABASES["default"]["ENGINE"] == "refuge.core.sqlite":
    DATABASES["default"]["TEST"] = {"NAME": str(_TEST_VAR / "test.sqlite3")}
elif os.environ.get("REFUGE_TEST_DATABASE_NAME"):
    # Lets several suites share one PostgreSQL server without sharing a database.
    DATABASES["default"]["TEST"] = {"NAME": os.environ["REFUGE_TEST_DATABASE_NAME"]}
STORAGES = {
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
AXES_ENABLED = True
# WhiteNoise warns (an error under -W error) when STATIC_ROOT does not exist.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
