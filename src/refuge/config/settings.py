"""The one settings module. Every value comes from a REFUGE_* environment variable (see
.env.example and README "Configuration"). Key material is never a setting: the master key lives
in the key file managed by refuge.security.keystore.
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from refuge.core.env import env_bool, env_int, env_list, env_path, env_secret, env_str

PACKAGE_DIR = Path(__file__).resolve().parent.parent

DEMO_MODE = env_bool("REFUGE_DEMO")
DEBUG = env_bool("REFUGE_DEBUG")

VAR_DIR = env_path("REFUGE_VAR_DIR", Path.cwd() / "var")
KEY_FILE = env_path("REFUGE_KEY_FILE", VAR_DIR / "keys" / "master.key")
# Where the root key lives. "sealed" (production and demo): only in `refuge keyd`, unsealed by
# k-of-n key holders after every start; "keyfile" (development, tests): a plain key file.
KEY_MODE = env_str("REFUGE_KEY_MODE", "sealed" if (DEMO_MODE or not DEBUG) else "keyfile")
if KEY_MODE not in {"sealed", "keyfile"}:
    raise ImproperlyConfigured("REFUGE_KEY_MODE must be sealed or keyfile.")
KEYD_SOCKET = env_path("REFUGE_KEYD_SOCKET", VAR_DIR / "keyd.sock")
# Shares entered towards an unseal are forgotten when the threshold is not reached in time.
UNSEAL_PENDING_SECONDS = env_int("REFUGE_UNSEAL_PENDING_SECONDS", 600, minimum=30)
# Written by `refuge demo` only; production refuses to start while it exists (security checks).
DEMO_UNSEAL_FILE = VAR_DIR / "demo-unseal.key"
# Keys the check-in PIN hashes; separate from the master key so check-ins work while sealed.
PIN_KEY_FILE = env_path("REFUGE_PIN_KEY_FILE", VAR_DIR / "keys" / "pin.key")


def _secret_key() -> str:
    configured = env_secret("REFUGE_SECRET_KEY")
    if configured:
        return configured
    if not (DEMO_MODE or DEBUG):
        raise ImproperlyConfigured(
            "REFUGE_SECRET_KEY (or REFUGE_SECRET_KEY_FILE) must be set outside demo mode."
        )
    # Demo and development: a random key kept under var/, so sessions survive a restart.
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50), encoding="utf-8")
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("REFUGE_ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("REFUGE_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.admin",
    "django.contrib.humanize",
    # Django's form templates, for FORM_RENDERER below.
    "django.forms",
    "axes",
    "csp",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "django_otp_webauthn",
    "refuge.core",
    "refuge.security",
    "refuge.accounts",
    "refuge.people",
    "refuge.cases",
    "refuge.evidence",
    "refuge.exports",
    "refuge.alerts",
    "refuge.intake",
    "refuge.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Before CSRF: it must install the encrypting upload handler before anything reads the body.
    "refuge.evidence.uploads.EvidenceUploadMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    # Fail closed: a signed-in session reaches staff pages only after its second factor.
    "refuge.accounts.middleware.VerifiedSessionMiddleware",
    "refuge.accounts.middleware.IdleSessionMiddleware",
    "refuge.accounts.middleware.TimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "refuge.security.middleware.SecurityHeadersMiddleware",
    "refuge.security.middleware.DecryptionFailureMiddleware",
    "refuge.security.sealed_web.SealedMiddleware",
    "refuge.core.middleware.NotFoundErrorMiddleware",
    "axes.middleware.AxesMiddleware",
]

# Forms render with the project's template engine, so src/refuge/templates/django/forms/ can
# replace one of Django's form templates (select.html: options written out, not included).
FORM_RENDERER = "django.forms.renderers.TemplatesSetting"

ROOT_URLCONF = "refuge.config.urls"
WSGI_APPLICATION = "refuge.config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "refuge.core.context_processors.refuge",
                "refuge.security.sealed_web.seal_banner",
                "refuge.accounts.context_processors.security",
                "refuge.alerts.context_processors.open_emergencies",
            ],
        },
    },
]

_database_url = env_str("REFUGE_DATABASE_URL") or env_str("DATABASE_URL")
if _database_url:
    DATABASES = {"default": dj_database_url.parse(_database_url, conn_max_age=60)}
else:
    DATABASES = {
        "default": {
            # Django's SQLite backend, with writers taking turns for the write lock instead of
            # sleeping in SQLite's busy handler (refuge.core.sqlite, docs/decisions/0008).
            "ENGINE": "refuge.core.sqlite",
            "NAME": str(env_path("REFUGE_SQLITE_PATH", VAR_DIR / "refuge.sqlite3")),
            "OPTIONS": {
                # Writers take the lock at BEGIN, so the audit chain head is read and extended
                # by one writer at a time (see refuge.security.audit).
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                # WAL with synchronous=NORMAL: commits do not wait for the disk; the worker
                # checkpoints (and so syncs) once a second, web processes only when the log
                # passes 40 MB (no worker running). Durability trade-off: docs/decisions/0008.
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                    "PRAGMA wal_autocheckpoint=10000;"
                ),
            },
        }
    }
if DATABASES["default"]["ENGINE"] not in {
    "refuge.core.sqlite",
    "django.db.backends.postgresql",
}:
    raise ImproperlyConfigured("Refuge runs on SQLite or PostgreSQL only.")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    # The published demo password is refused outside demo mode (refuge.accounts.validators).
    {"NAME": "refuge.accounts.validators.DemoPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # Django's ModelBackend, refusing the published demo password outside demo mode.
    "refuge.accounts.backends.RefugeModelBackend",
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "cases:dashboard"
LOGOUT_REDIRECT_URL = "accounts:login"

# django-axes: lock per username *and* IP, so knowing staff usernames is not enough to lock the
# hotline out (security-design b.9).
AXES_FAILURE_LIMIT = env_int("REFUGE_LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = env_int("REFUGE_LOGIN_COOLOFF_MINUTES", 15, minimum=1) / 60
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_VERBOSE = False
AXES_CLIENT_IP_CALLABLE = "refuge.accounts.client_ip.client_ip"
# Logins are in the audit trail (without addresses); axes keeps only failed attempts.
AXES_DISABLE_ACCESS_LOG = True

SESSION_IDLE_SECONDS = env_int("REFUGE_SESSION_IDLE_SECONDS", 900, minimum=60)
SESSION_COOKIE_AGE = SESSION_IDLE_SECONDS
# The idle expiry is moved on at most once a minute (accounts.middleware.IdleSessionMiddleware),
# not by a write on every request.
SESSION_SAVE_EVERY_REQUEST = False
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_ABSOLUTE_SECONDS = env_int("REFUGE_SESSION_ABSOLUTE_SECONDS", 12 * 3600, minimum=60)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Strict"
CSRF_COOKIE_SAMESITE = "Strict"
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the meta tag, not the cookie

SECURE_COOKIES = env_bool("REFUGE_SECURE_COOKIES", default=not (DEBUG or DEMO_MODE))
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
if SECURE_COOKIES:
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_NAME = "__Host-csrftoken"
SECURE_HSTS_SECONDS = env_int("REFUGE_HSTS_SECONDS", 0 if (DEBUG or DEMO_MODE) else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = False
# Behind nginx (REFUGE_BEHIND_TLS_PROXY=1) requests arrive as HTTPS, so this redirects only what
# slipped past the proxy. An onion-only instance (plain HTTP inside Tor) sets it to 0.
SECURE_SSL_REDIRECT = env_bool("REFUGE_SSL_REDIRECT", default=not (DEBUG or DEMO_MODE))
# HSTS preloading is a one-way decision for whoever runs the domain (removal takes months), so
# Refuge does not ask for it and `check --deploy` does not warn about it.
SILENCED_SYSTEM_CHECKS = ["security.W021"]
BEHIND_PROXY = env_bool("REFUGE_BEHIND_TLS_PROXY")
if BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
# same-origin, not no-referrer: with no-referrer browsers send "Origin: null" on form posts and
# Django's CSRF check rightly refuses them. Nothing leaves the site either way.
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [NONE],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF],
        "font-src": [SELF],
        "connect-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [NONE],
        "object-src": [NONE],
    },
}

LANGUAGE_CODE = env_str("REFUGE_LANGUAGE_CODE", "en")
LANGUAGES = [("en", _("English")), ("ru", _("Russian"))]
if LANGUAGE_CODE not in {code for code, _name in LANGUAGES}:
    raise ImproperlyConfigured("REFUGE_LANGUAGE_CODE must be 'en' or 'ru'.")
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
TIME_ZONE = env_str("REFUGE_TIME_ZONE", "Europe/Moscow")
USE_I18N = True
USE_TZ = True
# One unambiguous date format per language ("7 Dec 2026, 09:15", "7 дек. 2026, 09:15").
FORMAT_MODULE_PATH = "refuge.config.formats"

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [PACKAGE_DIR / "static"]
STORAGES = {
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# Error reports never show frame variables: they may hold decrypted identities.
DEFAULT_EXCEPTION_REPORTER_FILTER = "refuge.security.logging.NoLocalsExceptionReporterFilter"

LOG_LEVEL = env_str("REFUGE_LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "refuge.security.logging.RedactingFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # The request logger prints URLs; they carry ids but never identities.
        "django.request": {"level": "ERROR"},
        "axes": {"level": "WARNING"},
        # Apprise logs every send at INFO, with the target's address.
        "apprise": {"level": "WARNING"},
    },
}

# Exact identity searches (blind indexes) a staff member may run per hour.
IDENTITY_SEARCHES_PER_HOUR = env_int("REFUGE_IDENTITY_SEARCHES_PER_HOUR", 30, minimum=1)

# Two-person rule for unredacted exports: a request must be approved within this many hours, and
# an approved export downloaded (once) within this many hours of the approval.
EXPORT_DOWNLOAD_HOURS = env_int("REFUGE_EXPORT_DOWNLOAD_HOURS", 24, minimum=1)

# Paging and limits.
PAGE_SIZE = env_int("REFUGE_PAGE_SIZE", 25, minimum=5)
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("REFUGE_MAX_REQUEST_BYTES", 1_000_000, minimum=10_000)

# Evidence files (refuge.evidence): encrypted ciphertext only, as <uuid>.bin, uploads in tmp/.
EVIDENCE_DIR = env_path("REFUGE_EVIDENCE_DIR", VAR_DIR / "evidence")
EVIDENCE_MAX_BYTES = env_int("REFUGE_EVIDENCE_MAX_BYTES", 2 * 1024**3, minimum=1024)

# The background worker (refuge worker).
WORKER_POLL_SECONDS = env_int("REFUGE_WORKER_POLL_SECONDS", 2, minimum=1)

# The protected person's check-in page and the inbound channels (refuge.intake). The personal
# links printed by `refuge checkin link` start with PUBLIC_BASE_URL (below).
# The only name the protected person's page shows: a neutral word, never the organisation's.
PUBLIC_SITE_TITLE = env_str("REFUGE_PUBLIC_SITE_TITLE") or _("Notes")
# The language of the protected people's pages and replies where nobody is identified (a bad
# link, an unknown sender) and for a person none of whose languages the site speaks. Never the
# browser's Accept-Language: Tor Browser reports the same language for everyone.
PUBLIC_LANGUAGE = env_str("REFUGE_PUBLIC_LANGUAGE", "ru" if DEMO_MODE else LANGUAGE_CODE)
if PUBLIC_LANGUAGE not in {code for code, _name in LANGUAGES}:
    raise ImproperlyConfigured("REFUGE_PUBLIC_LANGUAGE must be 'en' or 'ru'.")
# Shared secret of the SMS gateway's signed webhook (POST /intake/sms/); empty turns it off.
SMS_WEBHOOK_SECRET = env_secret("REFUGE_SMS_WEBHOOK_SECRET")
# The Telegram bot run by `refuge telegrambot`; empty token: no bot.
TELEGRAM_BOT_TOKEN = env_secret("REFUGE_TELEGRAM_BOT_TOKEN")
TELEGRAM_API_URL = env_str("REFUGE_TELEGRAM_API_URL", "https://api.telegram.org").rstrip("/")
# Webhook mode instead of polling (POST /intake/telegram/, `refuge telegramwebhook set`): Telegram
# sends this secret in a header with every update. Empty: no webhook. Telegram allows 1-256 of
# A-Z a-z 0-9 _ -; Refuge asks for at least 32 so it cannot be guessed.
TELEGRAM_WEBHOOK_SECRET = env_secret("REFUGE_TELEGRAM_WEBHOOK_SECRET")
if TELEGRAM_WEBHOOK_SECRET and not re.fullmatch(r"[A-Za-z0-9_-]{32,256}", TELEGRAM_WEBHOOK_SECRET):
    raise ImproperlyConfigured(
        "REFUGE_TELEGRAM_WEBHOOK_SECRET must be 32 to 256 characters of A-Z, a-z, 0-9, _ and - "
        "(for example: python3 -c 'import secrets; print(secrets.token_urlsafe(32))')."
    )

# Notifications of the emergency line (refuge.alerts.notifier). "apprise" sends for real; "log"
# (the demo's default) sends nowhere and logs a line without target or text; "record" keeps
# messages in memory for tests.
NOTIFIER = env_str("REFUGE_NOTIFIER", "log" if DEMO_MODE else "apprise")
if NOTIFIER not in {"apprise", "log", "record"}:
    raise ImproperlyConfigured("REFUGE_NOTIFIER must be apprise, log or record.")
# Links in notifications (the one-time acknowledgement link, the board) start with this.
PUBLIC_BASE_URL = env_str("REFUGE_PUBLIC_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
# Staff channels of kind e-mail with a plain address are sent through this SMTP server.
SMTP_HOST = env_str("REFUGE_SMTP_HOST")
SMTP_PORT = env_int("REFUGE_SMTP_PORT", 587, minimum=1)
SMTP_USER = env_str("REFUGE_SMTP_USER")
SMTP_PASSWORD = env_secret("REFUGE_SMTP_PASSWORD")
SMTP_FROM = env_str("REFUGE_SMTP_FROM", "refuge@localhost")
SMTP_TLS = env_bool("REFUGE_SMTP_TLS", default=True)
# A notification being sent is leased to one worker this long; a worker that dies mid-send
# loses its lease and another sends again (at least once). Keep it well above a send's timeout.
DELIVERY_LEASE_SECONDS = env_int("REFUGE_DELIVERY_LEASE_SECONDS", 120, minimum=2)
# Dead-man's switch: the worker GETs this URL at most once a minute after a good tick, so that
# someone outside learns when alerting itself is down (e.g. a Healthchecks check's ping URL).
DEADMAN_URL = env_secret("REFUGE_DEADMAN_URL")

# Second factors (refuge.accounts.factors, docs/authentication.md). A re-authentication is good
# for this long before revealing an identity, an unredacted export, unsealing or sealing.
STEP_UP_SECONDS = env_int("REFUGE_STEP_UP_SECONDS", 300, minimum=30)
# Wrong second-factor codes before the account is locked for the login cool-off.
SECOND_FACTOR_FAILURE_LIMIT = env_int("REFUGE_SECOND_FACTOR_FAILURE_LIMIT", 5, minimum=1)
# django-otp's own per-device delays are replaced by that counter (one rule, one message).
OTP_TOTP_THROTTLE_FACTOR = 0
OTP_STATIC_THROTTLE_FACTOR = 0
OTP_TOTP_ISSUER = env_str("REFUGE_TOTP_ISSUER", "Refuge")
# Passkeys (django-otp-webauthn). The relying party id is the site's domain: passkeys registered
# for it work only there (an IP address cannot be one; demo and development use "localhost").
_public_netloc = PUBLIC_BASE_URL.split("://", 1)[-1].split("/", 1)[0]
_public_host, _colon, _public_port = _public_netloc.rpartition(":")
if not _public_port.isdigit():  # no port: the whole of it is the host
    _public_host, _colon, _public_port = _public_netloc, "", ""
_host_is_ip = _public_host.replace(".", "").isdigit() or ":" in _public_host
OTP_WEBAUTHN_RP_ID = env_str("REFUGE_WEBAUTHN_RP_ID", "localhost" if _host_is_ip else _public_host)
OTP_WEBAUTHN_RP_NAME = env_str("REFUGE_WEBAUTHN_RP_NAME", "Refuge")
# On an IP address (the demo, development) passkeys work on http://localhost at the same port.
OTP_WEBAUTHN_ALLOWED_ORIGINS = env_list(
    "REFUGE_WEBAUTHN_ORIGINS",
    [PUBLIC_BASE_URL] if not _host_is_ip else [f"http://localhost{_colon}{_public_port}"],
)
# Passkeys are a second factor after the password, never a way to skip it.
OTP_WEBAUTHN_ALLOW_PASSWORDLESS_LOGIN = False
