"""omo settings. Everything configurable comes from the environment through config.env."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import dj_database_url

from config import env

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env.get_str("OMO_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

TESTING = "pytest" in sys.modules or env.get_bool("OMO_TESTING", False)

DEBUG = env.get_bool("OMO_DEBUG", False)
_DEFAULT_SECRET = "omo-insecure-development-key-change-me-0123456789abcdef"
SECRET_KEY = env.get_str("OMO_SECRET_KEY", _DEFAULT_SECRET)
BASE_URL = env.get_str("OMO_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
ALLOWED_HOSTS = env.get_list("OMO_ALLOWED_HOSTS", ["*"])
CSRF_TRUSTED_ORIGINS = env.get_list("OMO_CSRF_TRUSTED_ORIGINS", [BASE_URL])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "channels",
    "django_tasks",
    "django_tasks_db",
    "omo.core",
    "omo.staff",
    "omo.catalog",
    "omo.customers",
    "omo.loyalty",
    "omo.commerce",
    "omo.analytics",
    "omo.segments",
    "omo.console",
    "omo.inbox",
    "omo.platforms",
    "omo.binding",
    "omo.attribution",
    "omo.clerk",
    "omo.shop",
    "omo.site",
    "omo.tracking",
    "omo.connectors",
    "omo.outgoing_webhooks",
    "omo.devtools",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
AUTH_USER_MODEL = "staff.User"
LOGIN_URL = "/console/login/"
LOGIN_REDIRECT_URL = "/console/"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "omo" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- database -------------------------------------------------------------------------------
DATABASE_URL = env.get_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'omo.sqlite3'}")
_db = dj_database_url.parse(DATABASE_URL, conn_max_age=env.get_int("OMO_DB_CONN_MAX_AGE", 0))
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers run beside the single writer; IMMEDIATE takes the write lock at BEGIN so
    # two writers queue instead of failing half-way with "database is locked".
    _db["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000;"
            " PRAGMA foreign_keys=ON; PRAGMA cache_size=-65536;"
        ),
    }
    _db["TEST"] = {"NAME": str(VAR_DIR / f"test-{env.get_str('PYTEST_XDIST_WORKER', 'main')}.sqlite3")}
else:
    _db.setdefault("TEST", {})
    test_name = env.get_str("OMO_TEST_DATABASE_NAME", None)
    if test_name:
        _db["TEST"]["NAME"] = test_name
DATABASES = {"default": _db}
IS_POSTGRES = _db["ENGINE"].endswith("postgresql")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- redis, cache, channel layer -------------------------------------------------------------
REDIS_URL = env.get_str("REDIS_URL", None)
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.get_str("OMO_REDIS_PREFIX", "omo"),
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # No socket timeout on reads and writes: with one, redis-py wraps every send in
            # asyncio.wait_for, which on Python 3.11 can swallow a cancellation that lands as the
            # send completes; a socket closed at that moment then never stops receiving and blocks
            # the server's shutdown. channels_redis's blocking pop returns every 5 s anyway; TCP
            # keepalive finds dead connections and connecting still times out.
            "CONFIG": {
                "hosts": [
                    {
                        "address": REDIS_URL,
                        "socket_timeout": None,
                        "socket_connect_timeout": 5,
                        "socket_keepalive": True,
                    }
                ],
                "prefix": env.get_str("OMO_REDIS_PREFIX", "omo"),
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# --- background tasks ------------------------------------------------------------------------
TASKS: dict[str, dict[str, Any]] = {
    "default": {
        "BACKEND": env.get_str("OMO_TASK_BACKEND", "django_tasks_db.DatabaseBackend"),
        "QUEUES": [],
    }
}

# --- i18n -------------------------------------------------------------------------------------
LANGUAGE_CODE = "zh-hant"
LANGUAGES = [("zh-hant", "繁體中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "omo" / "locale"]
TIME_ZONE = env.get_str("OMO_TIME_ZONE", "Asia/Taipei")
USE_I18N = True
USE_TZ = True

# --- static and media -------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env.get_str("OMO_MEDIA_ROOT", str(VAR_DIR / "media")))
# Uploaded files (product images and their LINE copies) are served by omo itself at /media/ unless
# a web server in front serves MEDIA_ROOT there (then set OMO_SERVE_MEDIA=0).
OMO_SERVE_MEDIA = env.get_bool("OMO_SERVE_MEDIA", True)
# A product image hosted elsewhere is fetched once to make its LINE copy (omo/catalog/line_copies.py):
# at most this many bytes, this many seconds without an answer; private addresses only when allowed.
OMO_IMAGE_FETCH_MAX_BYTES = env.get_int("OMO_IMAGE_FETCH_MAX_BYTES", 10 * 1024 * 1024)
OMO_IMAGE_FETCH_TIMEOUT = env.get_int("OMO_IMAGE_FETCH_TIMEOUT", 10)
OMO_IMAGE_FETCH_ALLOW_LOCAL = env.get_bool("OMO_IMAGE_FETCH_ALLOW_LOCAL", DEBUG)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG or TESTING

DATA_UPLOAD_MAX_MEMORY_SIZE = env.get_int("OMO_MAX_BODY_BYTES", 10 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# --- omo --------------------------------------------------------------------------------------
OMO_MEMBER_LINK_MAX_AGE = env.get_int("OMO_MEMBER_LINK_MAX_AGE", 7 * 24 * 3600)
OMO_WORKER_HEARTBEAT_MAX_AGE = env.get_int("OMO_WORKER_HEARTBEAT_MAX_AGE", 60)
OMO_ENCRYPTION_KEY = env.get_str("OMO_ENCRYPTION_KEY", None)
OMO_LINE_API_BASE = env.get_str("OMO_LINE_API_BASE", "https://api.line.me").rstrip("/")
OMO_LINE_DATA_API_BASE = env.get_str("OMO_LINE_DATA_API_BASE", None)
# Tracked links /r/<token>: seconds they stay valid (0 = never expire; attribution has its own window).
OMO_TRACKED_LINK_MAX_AGE = env.get_int("OMO_TRACKED_LINK_MAX_AGE", 90 * 24 * 3600) or None
# Local stand-ins' pages (the phone simulator at /dev/simulator/); `omo demo` turns this on.
OMO_DEVTOOLS = env.get_bool("OMO_DEVTOOLS", DEBUG or TESTING)
# Workers enqueue the periodic jobs (nightly loyalty, routing escalation, retention, sweeps) when due;
# the test suite turns this off so that no job runs in the middle of a test unless the test asks.
OMO_PERIODIC_JOBS = env.get_bool("OMO_PERIODIC_JOBS", not TESTING)
# Where the phone simulator finds the LINE stand-in's control API (`omo demo` starts one there).
OMO_LINE_STANDIN_URL = env.get_str("OMO_LINE_STANDIN_URL", "http://127.0.0.1:8091").rstrip("/")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.get_str("OMO_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

if not DEBUG and not TESTING and SECRET_KEY == _DEFAULT_SECRET and env.get_bool("OMO_REQUIRE_SECRET", False):
    raise env.EnvError("OMO_SECRET_KEY must be set in production (OMO_REQUIRE_SECRET=1)")
