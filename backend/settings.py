"""Settings: every environment-dependent value is read here, once.

Development (`make run`), tests (`make test`) and production differ only in
environment variables; see docs/configuration.md.
"""

from datetime import timedelta
from pathlib import Path

import environ
from django_guid.integrations import CeleryIntegration

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env.str(
    "DJANGO_SECRET_KEY",
    default="dev-only-insecure-key-change-me-0123456789abcdefghijklmnopqrstuvwxyz" if DEBUG else "",
)
if not SECRET_KEY:
    raise environ.ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "django_guid",
    "audit",
    "responders",
    "records",
    "incidents",
    "sync",
    "notifications",
    "review",
    "reports",
    "fieldapp",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django_guid.middleware.guid_middleware",
    "backend.middleware.AccessLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "backend.middleware.RequestSizeLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "backend.middleware.PageLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "backend.middleware.SecurityHeadersMiddleware",
    "backend.middleware.DatabaseRefusalMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "backend.urls"
WSGI_APPLICATION = "backend.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# SQLite is the embedded default so `make run` needs no services; tests and
# production set DATABASE_URL to PostgreSQL (the gap-free sync cursor uses
# PostgreSQL's xid8 there; see docs/sync-protocol.md).
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=0)
DATABASES["default"].setdefault("OPTIONS", {})
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Fail fast instead of hanging when the database is unreachable.
    DATABASES["default"]["OPTIONS"].setdefault("connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", default=5))
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"].setdefault("transaction_mode", "IMMEDIATE")
    DATABASES["default"]["OPTIONS"].setdefault("timeout", 20)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "responders.User"
# One way in: the pages and the admin sign in through the API's service (responders/web_auth.py).
AUTHENTICATION_BACKENDS = ["responders.web_auth.ServiceBackend"]

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
# The field app (/app/) and its form descriptions speak English and Spanish; so do the supervisor, reports,
# authenticator and admin pages (backend/middleware.py::PageLanguageMiddleware).
LANGUAGES = [("en", "English"), ("es", "Español")]
TIME_ZONE = env.str("TIME_ZONE", default="America/Los_Angeles")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = True

LOGIN_URL = "/supervisor/login/"
# The name authenticator apps show next to the codes (responders/two_factor.py).
OTP_TOTP_ISSUER = "Oakland field records"
LOGIN_REDIRECT_URL = "/supervisor/"

# --- Request limits -------------------------------------------------------
MAX_REQUEST_BYTES = env.int("MAX_REQUEST_BYTES", default=2 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_REQUEST_BYTES
DATA_UPLOAD_MAX_NUMBER_FIELDS = 2000

# --- REST framework ---------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["responders.authentication.DeviceJWTAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["backend.parsers.StrictJSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "backend.pagination.StablePageNumberPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "backend.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "backend.schema.FieldRecordsAutoSchema",
    "DEFAULT_THROTTLE_CLASSES": [
        "backend.throttling.AnonRateThrottle",
        "backend.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("THROTTLE_ANON", default="120/min"),
        "user": env.str("THROTTLE_USER", default="1200/min"),
        "login": env.str("THROTTLE_LOGIN", default="20/min"),
        "sync": env.str("THROTTLE_SYNC", default="600/min"),
    },
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
if DEBUG:
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"].append("rest_framework.renderers.BrowsableAPIRenderer")

# --- Shared cache: rate-limit counts (and anything else cached) seen by every process ------------------
# Redis when REDIS_URL is set (production); the database cache otherwise (`make run` creates its table).
CACHE_REDIS_URL = env.str("CACHE_REDIS_URL", default=env.str("REDIS_URL", default=""))
CACHE_KEY_PREFIX = env.str("CACHE_KEY_PREFIX", default="field-records")
if CACHE_REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CACHE_REDIS_URL,
            "KEY_PREFIX": CACHE_KEY_PREFIX,
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "cache_entries",
            "KEY_PREFIX": CACHE_KEY_PREFIX,
        }
    }
# Addresses (or networks) of the reverse proxies in front of the app. Only these may say, in
# X-Forwarded-For, who the client is (backend/network.py); empty: the header is ignored.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])
for _proxy in TRUSTED_PROXIES:  # a typo here would otherwise fail every request, not the start
    try:
        import ipaddress

        ipaddress.ip_network(_proxy.strip(), strict=False)
    except ValueError as _exc:
        raise environ.ImproperlyConfigured(f"TRUSTED_PROXIES: {_proxy!r} is not an address or network") from _exc

# --- Tokens and sessions ----------------------------------------------------
JWT_ISSUER = env.str("JWT_ISSUER", default="oakland-field-records")
JWT_AUDIENCE = env.str("JWT_AUDIENCE", default="field-records-api")
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(seconds=env.int("ACCESS_TOKEN_SECONDS", default=15 * 60)),
    # Unused: refresh tokens are opaque, single use, and die with their session (SESSION_* below).
    "REFRESH_TOKEN_LIFETIME": timedelta(hours=12),
    "ALGORITHM": "HS256",
    "SIGNING_KEY": env.str("JWT_SIGNING_KEY", default=SECRET_KEY),
    "AUDIENCE": JWT_AUDIENCE,
    "ISSUER": JWT_ISSUER,
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
    "AUTH_HEADER_TYPES": ("Bearer",),
    "UPDATE_LAST_LOGIN": False,
    "ROTATE_REFRESH_TOKENS": False,  # rotation is ours: atomic and family-aware
}
# A session (a token family) lives at most one shift, and dies when idle.
SESSION_ABSOLUTE_SECONDS = env.int("SESSION_ABSOLUTE_SECONDS", default=12 * 3600)
SESSION_IDLE_SECONDS = env.int("SESSION_IDLE_SECONDS", default=2 * 3600)
# A refresh token presented again within this many seconds of its rotation is
# a client's duplicate send (refused, session kept); later reuse revokes the family.
REFRESH_REUSE_GRACE_SECONDS = env.int("REFRESH_REUSE_GRACE_SECONDS", default=30)
LOGIN_MAX_FAILURES = env.int("LOGIN_MAX_FAILURES", default=5)
# Failures per username and client address before a lock; the first lock's length, doubling at each further
# lock up to the maximum (docs/security.md, "Lockout").
LOGIN_LOCKOUT_SECONDS = env.int("LOGIN_LOCKOUT_SECONDS", default=15 * 60)
LOGIN_LOCKOUT_MAX_SECONDS = env.int("LOGIN_LOCKOUT_MAX_SECONDS", default=24 * 3600)

# Django's own cookie sessions (supervisor pages) follow the same caps.
SESSION_COOKIE_AGE = SESSION_IDLE_SECONDS
SESSION_SAVE_EVERY_REQUEST = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# --- Sync -------------------------------------------------------------------
SYNC_PROTOCOL_VERSIONS = (1,)
SYNC_MAX_PUSH_MUTATIONS = env.int("SYNC_MAX_PUSH_MUTATIONS", default=500)
SYNC_MAX_PULL_PAGE = env.int("SYNC_MAX_PULL_PAGE", default=500)
SYNC_TOMBSTONE_RETENTION_DAYS = env.int("SYNC_TOMBSTONE_RETENTION_DAYS", default=90)
SYNC_CURSOR_KEY = env.str("SYNC_CURSOR_KEY", default=SECRET_KEY)
# Pushes running at once per server process; one that cannot start within the queue time gets 503 + Retry-After
# (when the pushes already turned away should have run, at most SYNC_PUSH_RETRY_AFTER_MAX seconds). See
# docs/configuration.md for sizing against workers.
SYNC_PUSH_CONCURRENCY = env.int("SYNC_PUSH_CONCURRENCY", default=1)
SYNC_PUSH_QUEUE_SECONDS = env.float("SYNC_PUSH_QUEUE_SECONDS", default=0.1)
# A pull held back by a sync write still open answers behind: true with this retry hint (seconds).
SYNC_PULL_BEHIND_RETRY_SECONDS = env.int("SYNC_PULL_BEHIND_RETRY_SECONDS", default=1)
SYNC_PUSH_RETRY_AFTER_MAX = env.int("SYNC_PUSH_RETRY_AFTER_MAX", default=60)
# A deletion reaches a WatermelonDB phone holding the record once it has pushed since (so an unsynced edit is
# not destroyed unseen), or after this many hours if it has nothing to push.
SYNC_WATERMELON_DELETE_GRACE_HOURS = env.float("SYNC_WATERMELON_DELETE_GRACE_HOURS", default=12)
# WatermelonDB pushes every local change at once; larger pushes get 413 (the app then syncs more often).
SYNC_WATERMELON_MAX_PUSH_RECORDS = env.int("SYNC_WATERMELON_MAX_PUSH_RECORDS", default=5000)
# At most this many records in one WatermelonDB pull answer; more waiting: `has_more`, and the app syncs again.
SYNC_WATERMELON_PULL_PAGE = env.int("SYNC_WATERMELON_PULL_PAGE", default=1000)

# --- Celery -----------------------------------------------------------------
# With no broker configured, `make run` uses kombu's filesystem transport and
# starts its own worker (see scripts/run.sh): tasks are never skipped.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=env.str("REDIS_URL", default="") or "filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    _queue_dir = Path(env.str("CELERY_FILESYSTEM_DIR", default=str(BASE_DIR / "var" / "celery")))
    (_queue_dir / "processed").mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "processed_folder": str(_queue_dir / "processed"),
        "store_processed": False,
    }
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_TASK_ALWAYS_EAGER = False
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_QUEUE", default="celery")
if not CELERY_BROKER_URL.startswith("filesystem://"):
    # A task whose worker died unacknowledged is redelivered after the visibility timeout; kombu scans for
    # such tasks every restore interval (and only on every `throttle`-th scan).
    CELERY_BROKER_TRANSPORT_OPTIONS.update(
        visibility_timeout=env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),
        unacked_restore_interval=env.int("CELERY_RESTORE_INTERVAL", default=10),
        unacked_restore_throttle=env.int("CELERY_RESTORE_THROTTLE", default=10),
    )
# Scheduled jobs (seconds between runs). Each is idempotent, so a missed or doubled tick is harmless.
CELERY_BEAT_SCHEDULE = {
    "escalate-overdue-follow-ups": {
        "task": "notifications.scan_overdue_follow_ups",
        "schedule": env.int("SCHEDULE_FOLLOW_UPS_SECONDS", default=15 * 60),
    },
    "escalate-contact-rule": {
        "task": "notifications.escalate_contact_rule",
        "schedule": env.int("SCHEDULE_CONTACT_RULE_SECONDS", default=6 * 3600),
    },
    "remind-unsubmitted-shifts": {
        "task": "notifications.remind_unsubmitted_shifts",
        "schedule": env.int("SCHEDULE_SHIFT_REMINDERS_SECONDS", default=30 * 60),
    },
    "escalate-stale-sync": {
        "task": "notifications.escalate_stale_sync",
        "schedule": env.int("SCHEDULE_STALE_SYNC_SECONDS", default=30 * 60),
    },
    "purge-login-failures": {
        "task": "responders.purge_login_failures",
        "schedule": env.int("SCHEDULE_LOGIN_FAILURES_SECONDS", default=24 * 3600),
    },
    "purge-tombstones": {
        "task": "sync.purge_tombstones",
        "schedule": env.int("SCHEDULE_PURGE_SECONDS", default=24 * 3600),
    },
}
# Public statistics: a calendar month is published this many days after it ends, then frozen (docs/reports.md).
PUBLIC_STATS_DELAY_DAYS = env.int("PUBLIC_STATS_DELAY_DAYS", default=15)
# A report period is closed this many days after it ends; its figures are then shown as of the close
# (docs/reports.md, "Closed periods").
REPORT_CLOSE_GRACE_DAYS = env.int("REPORT_CLOSE_GRACE_DAYS", default=7)
SHIFT_SUBMIT_REMIND_HOURS = env.int("SHIFT_SUBMIT_REMIND_HOURS", default=4)
SYNC_ESCALATE_AFTER_HOURS = env.int("SYNC_ESCALATE_AFTER_HOURS", default=24)

# --- Email ------------------------------------------------------------------
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="field-records@localhost")

# --- OpenAPI ----------------------------------------------------------------
SPECTACULAR_SETTINGS = {
    "TITLE": "Oakland field records API",
    "DESCRIPTION": (
        "Field records and offline sync for MACRO crews and DVP violence interrupters. "
        "Errors share one shape: {code, message, fields}."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "ENUM_NAME_OVERRIDES": {
        "MutationOpEnum": "sync.models.Mutation.Op",
        "ChangeOpEnum": ["upsert", "delete", "remove"],
        "MutationResultStatusEnum": ["applied", "unchanged", "merged", "conflict", "amendment", "rejected", "pending"],
        "WriteStatusEnum": ["applied", "unchanged", "merged", "conflict", "amendment"],
        "MutationStatusEnum": "sync.models.Mutation.Status",
        "ConflictStatusEnum": "records.models.Conflict.Status",
        "AmendmentStatusEnum": "records.models.Amendment.Status",
        "CaseStatusEnum": "incidents.choices.CaseStatus",
        "ReviewStatusEnum": "incidents.models.Shift.ReviewStatus",
        "IncidentKindEnum": "incidents.choices.IncidentKind",
        "NotificationKindEnum": "notifications.models.Notification.Kind",
    },
}

# --- Security headers (production values come from the environment) ---------
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# --- Observability: metrics, request ids, readiness (docs/configuration.md, "Metrics, logs and readiness") -----
# GET /metrics answers only `Authorization: Bearer <METRICS_TOKEN>`; unset, it answers 404. Several worker processes
# (gunicorn) add up their counters through PROMETHEUS_MULTIPROC_DIR (an environment variable read by
# prometheus_client itself; deploy/gunicorn.conf.py).
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# How long /readyz waits for the broker before it says the broker is down.
READYZ_BROKER_TIMEOUT = env.float("READYZ_BROKER_TIMEOUT", default=2.0)
# Every request has an id: the X-Request-ID a proxy or client sent (when it is a UUID), else a new one. It is in
# every log line of the request and of the Celery tasks it queued, and in the answer's X-Request-ID header.
DJANGO_GUID = {
    "GUID_HEADER_NAME": "X-Request-ID",
    "VALIDATE_GUID": True,
    "RETURN_HEADER": True,
    "EXPOSE_HEADER": True,
    "INTEGRATIONS": [CeleryIntegration(use_django_logging=True, log_parent=False)],
}

# --- Logging: never personal data, tokens or passwords ---------------------
# LOG_FORMAT json (the default when debug is off): one JSON object per line with the request id; plain: text.
LOG_FORMAT = env.str("LOG_FORMAT", default="plain" if DEBUG else "json")
if LOG_FORMAT not in ("json", "plain"):
    raise environ.ImproperlyConfigured("LOG_FORMAT is json or plain")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "redact": {"()": "backend.logging.RedactingFilter"},
        "request_id": {"()": "backend.logging.RequestIdFilter"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(levelname)s %(name)s %(message)s %(request_id)s",
            "rename_fields": {"levelname": "level", "name": "logger"},
            "timestamp": "time",
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["request_id", "redact"]}
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
        # django-guid says at INFO, for every request, whether it found an id: the access line has it already.
        "django_guid": {"level": "WARNING"},
    },
}
