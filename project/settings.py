"""Paylane settings: one module, everything that varies read from the environment.

With no environment at all the service runs embedded: SQLite (IMMEDIATE
transactions) and the in-memory channel layer. ``DATABASE_URL`` and
``REDIS_URL`` switch to PostgreSQL and channels-redis. ``DEBUG=0`` (the default)
is production-safe: ``SECRET_KEY`` required, HTTPS redirect, HSTS, secure
``__Host-`` cookies. A ``.env`` file beside ``manage.py`` (written by ``make``)
supplies development values; real environment variables win over it.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from project.observability.logging import FORMATS as LOG_FORMATS
from project.observability.logging import logging_config, structlog_configure

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY is not set. Set it in the environment (production), "
        "or run `make run` once to write a development .env with DEBUG=1 and a generated key."
    )
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",
    # Django's admin, on Paylane's site: a one-time code with PAYLANE_ADMIN_OTP, every sign-in recorded.
    "project.apps.PaylaneAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "knox",  # API tokens, hashed at rest (wallets/accounts/tokens.py)
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    # TOTP devices for the admin's second factor (PAYLANE_ADMIN_OTP, `manage.py admin_otp_add`).
    "django_otp",
    "django_otp.plugins.otp_totp",
    # The ledger first: it is the floor, and the wallets app extends its admin.
    "ledger",
    "wallets",
    "realtime",
    # Background jobs (jobs/, docs/operations.md): before django-tasks-db, so that `manage.py db_worker`
    # is jobs' worker (django-tasks-db's, plus heartbeats, recovery of a dead worker's tasks and retries).
    "jobs",
    "django_tasks_db",
    # Health checks, /metrics, the connection pool's sampler (docs/operations.md).
    "project.observability.apps.ObservabilityConfig",
    # PgBouncer's transaction mode: the timeouts set in each transaction (docs/scaling.md).
    "project.database.apps.DatabaseConfig",
]

MIDDLEWARE = [
    # First: a request id and one log line for every request, timed from the outside (docs/operations.md).
    "project.observability.middleware.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "project.middleware.CommonMiddleware",  # Django's, with a 308 for a POST missing its slash
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.user.is_verified(): did this session present a one-time code (the admin asks, PAYLANE_ADMIN_OTP).
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # A view whose database connection died answers 503, not 500 (wallets/database_unavailable.py).
    "project.middleware.DatabaseUnavailableMiddleware",
    # Last, as django-axes requires: it turns a lockout flagged during the view into its response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "project.urls"
ASGI_APPLICATION = "project.asgi.application"
WSGI_APPLICATION = "project.wsgi.application"

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
                "wallets.context_processors.paylane",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------
# PostgreSQL connections come from a pool per process (Django's own, on psycopg 3's
# psycopg_pool): under ASGI Django closes its connection after every request and
# every database_sync_to_async call (CONN_MAX_AGE must stay 0 there), and without
# the pool each of those opened a new PostgreSQL backend (~3 ms of CPU). The pool
# hands the same connections out again. PAYLANE_DB_POOL_SIZE=0 turns it off.
PAYLANE_DB_POOL_SIZE = env.int("PAYLANE_DB_POOL_SIZE", default=20)
# Behind PgBouncer in transaction mode (docs/scaling.md, "PgBouncer"): every transaction may run on
# another server connection, so nothing may rely on session state. PAYLANE_DB_TRANSACTION_POOLING=1
# switches what must switch: the timeouts below are set with SET LOCAL at the start of each
# transaction instead of as connection options (which PgBouncer refuses), and QuerySet.iterator()
# reads with client-side cursors (DISABLE_SERVER_SIDE_CURSORS). It applies to every alias.
PAYLANE_DB_TRANSACTION_POOLING = env.bool("PAYLANE_DB_TRANSACTION_POOLING", default=False)
# A stuck lock or a runaway query must not hold a request forever. Web processes (daphne, the
# test suite, `manage.py runserver`) wait at most PAYLANE_DB_LOCK_TIMEOUT for a row lock and
# PAYLANE_DB_STATEMENT_TIMEOUT for a statement; a money movement that hits either answers 503
# `busy` with nothing changed (wallets.busy). manage.py's other commands (migrate, verify_ledger,
# export_ledger on a large ledger) run without them.
PAYLANE_DB_TIMEOUTS = {
    "lock_timeout": env.str("PAYLANE_DB_LOCK_TIMEOUT", default="5s"),
    "statement_timeout": env.str("PAYLANE_DB_STATEMENT_TIMEOUT", default="30s"),
}
for _name, _value in PAYLANE_DB_TIMEOUTS.items():
    if not re.fullmatch(r"[0-9]+(ms|s|min)?", _value):
        raise ImproperlyConfigured(f"PAYLANE_DB_{_name.upper()} must look like 5s, 500ms or 0, not {_value!r}")
if env.str("PAYLANE_PROCESS", default="web") != "web":
    PAYLANE_DB_TIMEOUTS = {}
# What project.database.pooling sets with SET LOCAL in each transaction (transaction pooling only).
PAYLANE_DB_TRANSACTION_TIMEOUTS = PAYLANE_DB_TIMEOUTS if PAYLANE_DB_TRANSACTION_POOLING else {}


def _database(url_variable: str) -> dict[str, Any]:
    database: dict[str, Any] = env.db(url_variable)
    postgres = database["ENGINE"] == "django.db.backends.postgresql"
    if postgres and PAYLANE_DB_POOL_SIZE > 0:
        database.setdefault("OPTIONS", {})["pool"] = {
            "min_size": 1,
            "max_size": PAYLANE_DB_POOL_SIZE,
            # Waiting longer than this for a free connection is an error, not a queue.
            "timeout": env.float("PAYLANE_DB_POOL_TIMEOUT", default=10.0),
        }
    else:
        database.setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=0))
    if postgres and PAYLANE_DB_TRANSACTION_POOLING:
        # Django's documented setting for transaction pooling: a server-side cursor declared
        # outside a transaction (WITH HOLD) would be gone at the next statement.
        database["DISABLE_SERVER_SIDE_CURSORS"] = True
    elif postgres and PAYLANE_DB_TIMEOUTS:
        options = " ".join(f"-c {name}={value}" for name, value in PAYLANE_DB_TIMEOUTS.items())
        existing = database.setdefault("OPTIONS", {}).get("options", "")
        database["OPTIONS"]["options"] = f"{existing} {options}".strip()
    # With the pool: each connection is checked as it is handed out, so one that PostgreSQL
    # dropped (restart, failover, an administrator) is replaced instead of failing the
    # request that drew it.
    database["CONN_HEALTH_CHECKS"] = env.bool("CONN_HEALTH_CHECKS", default=True)
    if postgres and PAYLANE_DB_POOL_SIZE > 0 and database["CONN_HEALTH_CHECKS"]:
        # The check looks at the idle socket first and sends the empty query only when something
        # arrived on it (PostgreSQL said goodbye, the peer reset): project/database/liveness.py.
        from project.database.liveness import connection_check

        database["OPTIONS"]["pool"]["check"] = connection_check
    return database


if env.str("DATABASE_URL", default=""):
    DATABASES = {"default": _database("DATABASE_URL")}
    # A streaming standby for read-only work (docs/scaling.md, "Read replica"): history,
    # statements, exports, verify_ledger and the admin's audit read there (ledger.replica,
    # project.database.routers); writes, money movements and migrations stay on default. In
    # tests the alias mirrors default.
    if env.str("DATABASE_REPLICA_URL", default=""):
        DATABASES["replica"] = {**_database("DATABASE_REPLICA_URL"), "TEST": {"MIRROR": "default"}}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env.str("SQLITE_PATH", default=str(BASE_DIR / "db.sqlite3")),
            # IMMEDIATE takes the write lock at BEGIN, so two transfers never
            # both read a balance and then collide on the upgrade to a write lock.
            "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20},
            "TEST": {"NAME": env.str("SQLITE_TEST_PATH", default="") or None},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Reads of read-only work to the replica when there is one; everything else to default.
DATABASE_ROUTERS = ["project.database.routers.ReplicaRouter"]

# --- Channel layer -------------------------------------------------------------
# channels-redis's Pub/Sub layer: a group_send is one PUBLISH, and each daphne
# holds one subscription per group its sockets joined. Measured against the
# original RedisChannelLayer (docs/performance.md): pushes arrive sooner (steady
# p99 207 -> 19 ms), and the original layer fell behind and dropped events at the
# service's full rate, Pub/Sub none. Pub/Sub is at-most-once like every channel
# layer (nothing is kept for a subscriber that is away); clients resume from the
# ledger. Two traps of redis-py, both measured: its default 5 s socket timeout
# kills idle reads (channels_redis#422), so reads never time out here, connects
# do; and its pool refuses (MaxConnectionsError) instead of waiting once full,
# so its size is explicit. Pushes from sync code go through the process's pusher
# thread (realtime/pusher.py: pipelined PUBLISHes in the layer's own format, on a
# connection of its own whose reads time out), never async_to_sync per call.
REDIS_URL = env.str("REDIS_URL", default="")
PAYLANE_REDIS_POOL_SIZE = env.int("PAYLANE_REDIS_POOL_SIZE", default=1000)


# Redis through Sentinel (docs/scaling.md, "Redis with Sentinel"): REDIS_SENTINELS lists the
# sentinels ("host:port,host:port,host:port"); every Redis user (the channel layer, the cache and
# so the rate limits, /readyz) asks them for the current master of REDIS_SENTINEL_MASTER and asks
# again after a connection to it fails, so a failover is followed without a restart.
def _sentinels(text: str) -> list[tuple[str, int]]:
    sentinels = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        host, _, port = item.rpartition(":")
        if not host or not port.isdigit():
            raise ImproperlyConfigured(f"REDIS_SENTINELS must look like host:26379,host:26379, not {text!r}")
        sentinels.append((host.strip("[]"), int(port)))
    return sentinels


REDIS_SENTINELS = _sentinels(env.str("REDIS_SENTINELS", default=""))
REDIS_SENTINEL_MASTER = env.str("REDIS_SENTINEL_MASTER", default="paylane")
REDIS_SENTINEL_DB = env.int("REDIS_SENTINEL_DB", default=0)
if REDIS_SENTINELS and REDIS_URL:
    raise ImproperlyConfigured("Set REDIS_URL (one Redis) or REDIS_SENTINELS (Redis through Sentinel), not both")
# A sentinel that does not answer is skipped after this long (the next one is asked).
REDIS_SENTINEL_KWARGS = {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}
if REDIS_URL or REDIS_SENTINELS:
    redis_connection: dict[str, object] = (
        {
            "sentinels": REDIS_SENTINELS,
            "master_name": REDIS_SENTINEL_MASTER,
            "db": REDIS_SENTINEL_DB,
            "sentinel_kwargs": REDIS_SENTINEL_KWARGS,
        }
        if REDIS_SENTINELS
        else {"address": REDIS_URL}
    )
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "realtime.channel_layer.LocalChannelPubSubLayer",
            "CONFIG": {
                "hosts": [
                    {
                        **redis_connection,
                        "socket_timeout": None,
                        "socket_connect_timeout": 3,
                        "max_connections": PAYLANE_REDIS_POOL_SIZE,
                    }
                ],
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# --- Auth ------------------------------------------------------------------------
AUTH_USER_MODEL = "wallets.User"
LOGIN_URL = "home"
LOGIN_REDIRECT_URL = "dashboard"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=60 * 60 * 8)
# Staff sign in to the admin with a password and a TOTP code (django-otp), on by default in
# production. Off, the admin asks for the password only, as in development. Either way every admin
# sign-in is recorded (wallets.AdminSignIn). `manage.py admin_otp_add USERNAME` enrols a device.
PAYLANE_ADMIN_OTP = env.bool("PAYLANE_ADMIN_OTP", default=not DEBUG)
# The name authenticator apps show beside the account (the otpauth:// URI's issuer).
OTP_TOTP_ISSUER = "Paylane"

# --- Security (production-safe unless DEBUG) --------------------------------------
# Content Security Policy (Django's own): scripts, styles and sockets from this
# origin only, no plugins, never framed. Pages carry no inline script or style.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
if not DEBUG:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    # Probes and scrapers speak plain HTTP to the process itself (docs/operations.md).
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    # __Host- cookies: Secure, Path=/, no Domain, so no subdomain can plant them.
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_NAME = "__Host-csrftoken"

# --- Internationalisation ------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="Asia/Kolkata")
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# --- Logs and metrics (docs/operations.md) -----------------------------------------------
# One JSON object per line on stderr (PAYLANE_LOG_FORMAT=json, the default with DEBUG off), or
# readable lines (console, the default with DEBUG=1); structlog renders ours and the stdlib's alike.
PAYLANE_LOG_FORMAT = env.str("PAYLANE_LOG_FORMAT", default="console" if DEBUG else "json").lower()
if PAYLANE_LOG_FORMAT not in LOG_FORMATS:
    raise ImproperlyConfigured(
        f"PAYLANE_LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, not {PAYLANE_LOG_FORMAT!r}"
    )
LOGGING = logging_config(log_format=PAYLANE_LOG_FORMAT, level=env.str("LOG_LEVEL", default="INFO").upper())
structlog_configure()
# GET /metrics answers a request with `Authorization: Bearer <this>`; unset, the loopback only.
PAYLANE_METRICS_TOKEN = env.str("PAYLANE_METRICS_TOKEN", default="")
# Several worker processes: each writes its figures to this folder and /metrics adds them up
# (prometheus-client's multiprocess mode). It must be set in the environment of every process
# before it starts, and emptied when they all restart; it is created here if missing.
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)

# --- Mail to the operators ----------------------------------------------------------------
# ADMINS: comma-separated addresses that get what must not wait for someone to read a log (a
# verify_ledger run with findings, a background task given up); none by default, and then nothing
# is mailed. EMAIL_URL says how mail leaves (django-environ's form: smtp+tls://user:password@host:587,
# smtp+ssl://..., consolemail:// to print them); by default the host's own mail server,
# smtp://localhost:25. A mail that cannot be sent is logged, never fatal. Django 6.1's MAILERS, not
# the EMAIL_* settings it deprecates.
ADMINS = env.list("ADMINS", default=[])
SERVER_EMAIL = env.str("SERVER_EMAIL", default="paylane@localhost")


def _mailer(url: str) -> dict[str, object]:
    config = environ.Env.email_url_config(url)
    options = {
        "host": config.get("EMAIL_HOST"),
        "port": config.get("EMAIL_PORT"),
        "username": config.get("EMAIL_HOST_USER"),
        "password": config.get("EMAIL_HOST_PASSWORD"),
        "use_tls": config.get("EMAIL_USE_TLS", False),
        "use_ssl": config.get("EMAIL_USE_SSL", False),
    }
    backend = config["EMAIL_BACKEND"]
    smtp = backend == "django.core.mail.backends.smtp.EmailBackend"
    return {"BACKEND": backend, "OPTIONS": {k: v for k, v in options.items() if v is not None} if smtp else {}}


MAILERS = {"default": _mailer(env.str("EMAIL_URL", default="smtp://localhost:25"))}

# --- Background jobs (jobs/, docs/operations.md) --------------------------------------------
# Django's tasks framework on django-tasks-db: the queue is a table in the same database, so a
# task enqueued inside a money transaction commits or rolls back with it (jobs.outbox), and no
# other server is needed. `python manage.py db_worker` runs the tasks; `python manage.py
# paylane_scheduler` enqueues the periodic ones.
TASKS = {
    "default": {"BACKEND": "django_tasks_db.DatabaseBackend"},
    # Work that needs no durability and must not wait for a worker: the password-reset code, sent
    # after the answer on a few threads of the process that took the request (project/tasks.py),
    # so the answer's time does not tell whether the number has an account.
    "threads": {"BACKEND": "project.tasks.ThreadBackend", "OPTIONS": {"WORKERS": 2, "MAX_BACKLOG": 10_000}},
}


# --- Paylane ----------------------------------------------------------------------------
PAYLANE_CURRENCY = env.str("PAYLANE_CURRENCY", default="INR")
PAYLANE_DAILY_LIMIT = Decimal(env.str("PAYLANE_DAILY_LIMIT", default="100000.00"))
PAYLANE_TOP_UP_MAX = Decimal(env.str("PAYLANE_TOP_UP_MAX", default="100000.00"))
PAYLANE_PHONE_REGION = env.str("PAYLANE_PHONE_REGION", default="IN")
PAYLANE_HISTORY_PAGE_SIZE = env.int("PAYLANE_HISTORY_PAGE_SIZE", default=20)
# How long after a transfer its receiver may refund it (wallets/corrections.py).
PAYLANE_REFUND_DAYS = env.int("PAYLANE_REFUND_DAYS", default=30)
# Money requests (wallets/money_requests/): a PENDING request expires this long after it was made
# (the environment gives days); each user may make at most PAYLANE_REQUEST_RATE in any 24 hours.
PAYLANE_REQUEST_TTL = timedelta(days=env.float("PAYLANE_REQUEST_TTL", default=7.0))
PAYLANE_REQUEST_RATE = env.int("PAYLANE_REQUEST_RATE", default=20)

# Messages to phones (wallets/accounts/sms.py): console, file, locmem or a dotted path to a class.
PAYLANE_SMS_BACKEND = env.str("PAYLANE_SMS_BACKEND", default="console")
PAYLANE_SMS_FILE_PATH = env.str("PAYLANE_SMS_FILE_PATH", default="")

# --- API ---------------------------------------------------------------------------------
# The JSON API under /api/v1/ (wallets/api/, docs/api.md): DRF with Bearer tokens and
# sessions, Decimal JSON, one error envelope, per-user money-movement rate limit in the cache,
# django-axes lockout for the login page and the token endpoint.
# Rate limits (wallets/ratelimit.py), the same for the pages and the API.
PAYLANE_TRANSFER_RATE = env.str("PAYLANE_TRANSFER_RATE", default="60/m")
PAYLANE_REGISTER_RATE = env.str("PAYLANE_REGISTER_RATE", default="20/h")
PAYLANE_SIGNIN_RATE = env.str("PAYLANE_SIGNIN_RATE", default="30/m")
PAYLANE_RECIPIENT_LOOKUP_RATE = env.str("PAYLANE_RECIPIENT_LOOKUP_RATE", default="10/h")
PAYLANE_CODE_RATE = env.str("PAYLANE_CODE_RATE", default="5/h")
# Statements (wallets/statements/): each reads a period of the ledger, up to a year of it.
PAYLANE_STATEMENT_RATE = env.str("PAYLANE_STATEMENT_RATE", default="60/h")
# The payment PIN (wallets/accounts/pins.py): this many wrong PINs in a row lock payments for
# PAYLANE_PIN_LOCK_MINUTES, even with the right PIN; a code sent to the verified number ends it.
PAYLANE_PIN_FAILURE_LIMIT = env.int("PAYLANE_PIN_FAILURE_LIMIT", default=5)
PAYLANE_PIN_LOCK_MINUTES = env.int("PAYLANE_PIN_LOCK_MINUTES", default=15)
if PAYLANE_PIN_FAILURE_LIMIT < 1 or PAYLANE_PIN_LOCK_MINUTES < 1:
    raise ImproperlyConfigured("PAYLANE_PIN_FAILURE_LIMIT and PAYLANE_PIN_LOCK_MINUTES must be at least 1")
# Password resets: requests and confirmations per client address, reset codes per mobile number.
PAYLANE_PASSWORD_RESET_RATE = env.str("PAYLANE_PASSWORD_RESET_RATE", default="20/h")
PAYLANE_PASSWORD_RESET_NUMBER_RATE = env.str("PAYLANE_PASSWORD_RESET_NUMBER_RATE", default="3/h")
# Reverse proxies in front of the service, each appending to X-Forwarded-For (wallets/clientip.py).
PAYLANE_PROXY_COUNT = env.int("PAYLANE_PROXY_COUNT", default=0)
PAYLANE_API_MAX_BODY = env.int("PAYLANE_API_MAX_BODY", default=64 * 1024)
PAYLANE_IDEMPOTENCY_KEEP_HOURS = env.int("PAYLANE_IDEMPOTENCY_KEEP_HOURS", default=24)

if REDIS_URL or REDIS_SENTINELS:
    # Shared by every process: the rate limit counts one user's calls wherever they land.
    # django-redis, not Django's own RedisCache: under ASGI every request gets a cache
    # object of its own, and Django's opened a new Redis connection for each (measured:
    # a connect and health check on every API call); django-redis keeps one connection
    # pool per process.
    # Short socket timeouts: a Redis that stopped answering costs a request at
    # most this long before the rate limits count per process (wallets/ratelimit.py).
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "paylane",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5},
        }
    }
    if REDIS_SENTINELS:
        # A Sentinel connection factory: LOCATION's host part is the master's name
        # in Sentinel. One LOCATION, the master (not django-redis's SentinelClient, which would
        # read from replicas: a counter read there may lag its own increment).
        CACHES["default"]["LOCATION"] = f"redis://{REDIS_SENTINEL_MASTER}/{REDIS_SENTINEL_DB}"
        CACHES["default"]["OPTIONS"] |= {
            # django-redis's SentinelConnectionFactory, but one Sentinel per process rather than a
            # new one for every request's cache object (project/sentinel_cache.py).
            "CONNECTION_FACTORY": "project.sentinel_cache.SharedSentinelConnectionFactory",
            "SENTINELS": REDIS_SENTINELS,
            "SENTINEL_KWARGS": REDIS_SENTINEL_KWARGS,
        }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # First, so an anonymous call gets 401 with `WWW-Authenticate: Bearer`, not 403.
        "wallets.api.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["wallets.api.permissions.IsWalletHolder"],
    "DEFAULT_PARSER_CLASSES": ["wallets.api.parsers.DecimalJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "wallets.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Paylane API",
    "DESCRIPTION": "Wallets, idempotent top-ups and transfers, history. See docs/api.md.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI's assets from the installed sidecar package, not a CDN: the service works offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}


# --- Credentials: API tokens, the websocket's replay pace ------------------------------
# API tokens are django-rest-knox rows (hashed at rest, shown once, one per sign-in),
# valid for PAYLANE_TOKEN_TTL: "30d", "12h", "90m", "3600s" or seconds. Checked on
# every request without a write (no auto-refresh): wallets/accounts/tokens.py.
def _duration(name: str, default: str) -> timedelta:
    text = env.str(name, default=default).strip().lower()
    match = re.fullmatch(r"(\d+)\s*([smhd]?)", text)
    if not match or int(match[1]) == 0:
        raise ImproperlyConfigured(f"{name} must be a positive duration such as 30d, 12h, 90m or 3600s, not {text!r}")
    return timedelta(seconds=int(match[1]) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match[2]])


PAYLANE_TOKEN_TTL = _duration("PAYLANE_TOKEN_TTL", "30d")
REST_KNOX = {"TOKEN_TTL": PAYLANE_TOKEN_TTL, "AUTO_REFRESH": False}
# A websocket resume is paced per socket: PAYLANE_WS_REPLAY_RATE entries a second after a
# first PAYLANE_WS_REPLAY_BURST, across every resume of the socket (docs/websocket.md).
PAYLANE_WS_REPLAY_RATE = env.float("PAYLANE_WS_REPLAY_RATE", default=1000.0)
PAYLANE_WS_REPLAY_BURST = env.int("PAYLANE_WS_REPLAY_BURST", default=1000)

# django-axes: lock a username+IP pair out after repeated failed sign-ins (page and token).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("PAYLANE_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("PAYLANE_LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "wallets.views.lockout_response"
# The same client address as every other limit (django-ipware, PAYLANE_PROXY_COUNT), and
# usernames in lower case: sign-in ignores case, so a lockout must too.
AXES_CLIENT_IP_CALLABLE = "wallets.clientip.client_ip"
AXES_USERNAME_CALLABLE = "wallets.views.lockout_username"
AXES_VERBOSE = False

# --- Background jobs: the worker and the periodic work (jobs/, docs/operations.md) -------------
# A worker writes a heartbeat every PAYLANE_JOBS_HEARTBEAT; one silent for PAYLANE_JOBS_WORKER_TIMEOUT
# is dead, and the task it was running goes back in the queue. A failed attempt (the task raised or
# its worker died) is retried after PAYLANE_JOBS_RETRY_DELAY, doubled at each attempt (at most an
# hour), until PAYLANE_JOBS_MAX_ATTEMPTS; then it is FAILED, logged at ERROR and mailed to ADMINS.
PAYLANE_JOBS_HEARTBEAT = _duration("PAYLANE_JOBS_HEARTBEAT", "5s")
PAYLANE_JOBS_WORKER_TIMEOUT = _duration("PAYLANE_JOBS_WORKER_TIMEOUT", "30s")
if PAYLANE_JOBS_WORKER_TIMEOUT < 2 * PAYLANE_JOBS_HEARTBEAT:
    raise ImproperlyConfigured("PAYLANE_JOBS_WORKER_TIMEOUT must be at least twice PAYLANE_JOBS_HEARTBEAT")
PAYLANE_JOBS_MAX_ATTEMPTS = env.int("PAYLANE_JOBS_MAX_ATTEMPTS", default=8)
if PAYLANE_JOBS_MAX_ATTEMPTS < 1:
    raise ImproperlyConfigured("PAYLANE_JOBS_MAX_ATTEMPTS must be at least 1")
PAYLANE_JOBS_RETRY_DELAY = _duration("PAYLANE_JOBS_RETRY_DELAY", "10s")
# Finished task rows, periodic runs and delivery records are pruned (daily) past this age.
PAYLANE_JOBS_KEEP = _duration("PAYLANE_JOBS_KEEP", "7d")
# What `manage.py paylane_scheduler` enqueues, each once per period (periods count from the Unix
# epoch in UTC: the daily jobs are due at 00:00 UTC). Functions in project/periodic.py.
PAYLANE_PERIODIC_JOBS = {
    "seal_ledger": {"call": "project.periodic.seal_ledger", "every": timedelta(minutes=1)},
    "verify_ledger": {"call": "project.periodic.verify_ledger", "every": timedelta(hours=1)},
    "prune_idempotency_keys": {"call": "project.periodic.prune_idempotency_keys", "every": timedelta(days=1)},
    "prune_codes": {"call": "project.periodic.prune_codes", "every": timedelta(days=1)},
    "prune_jobs": {"call": "project.periodic.prune_jobs", "every": timedelta(days=1)},
    "expire_requests": {"call": "project.periodic.expire_requests", "every": timedelta(hours=1)},
}
# django-axes keeps a failed sign-in's form fields (AccessAttempt.post_data, shown in the admin),
# masking only "password" and these: every field of ours that holds a secret.
AXES_SENSITIVE_PARAMETERS = [
    "username",
    "ip_address",
    "login-password",
    "current_password",
    "new_password",
    "new_password_confirm",
    "otp_token",
]
