"""Settings shared by every environment; local, test and production override what differs."""

from datetime import timedelta
from pathlib import Path

import dj_database_url

from config.settings.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(env_str("ZHIZE_VAR_DIR", str(BASE_DIR / "var")) or BASE_DIR / "var")

DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY", "") or ""
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "core.admin_apps.ZhizeAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "core.axes_app.AxesConfig",  # django-axes, under a translatable name
    "core",
    "duty_lists",
    "arbitration",
    "grievances",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "core.middleware.IdleTimeoutMiddleware",
    "core.middleware.LanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "core.middleware.PasswordRotationMiddleware",
    # Axes last, as its documentation asks: it turns a lockout raised during login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "core.context_processors.shell",
            ],
        },
    },
]

DATABASE_URL = env_str("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'zhize.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default runs web and worker as two processes on one file. A deferred transaction that
    # later needs to write fails at once ("database is locked") when the other process writes; taking the
    # write lock at BEGIN makes it wait instead, and WAL lets readers go on meanwhile.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "core.User"

# --- Accounts -------------------------------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    # Axes first: it refuses a locked-out account before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

# Password policy of the national protection scheme (等保): length, character classes, periodic change and
# no reuse of recent passwords. Each figure is configurable because offices set their own.
PASSWORD_MIN_LENGTH = env_int("ZHIZE_PASSWORD_MIN_LENGTH", 10)
PASSWORD_MIN_CHARACTER_CLASSES = env_int("ZHIZE_PASSWORD_MIN_CLASSES", 3)
PASSWORD_MAX_AGE_DAYS = env_int("ZHIZE_PASSWORD_MAX_AGE_DAYS", 90)
PASSWORD_HISTORY_SIZE = env_int("ZHIZE_PASSWORD_HISTORY", 5)
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": PASSWORD_MIN_LENGTH},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {
        "NAME": "core.passwords.CharacterClassValidator",
        "OPTIONS": {"min_classes": PASSWORD_MIN_CHARACTER_CLASSES},
    },
    {
        "NAME": "core.passwords.PasswordHistoryValidator",
        "OPTIONS": {"history_size": PASSWORD_HISTORY_SIZE},
    },
]

# Lockout: 5 failures within 15 minutes lock the account (by user name, from any address) for 15 minutes;
# the security administrator can lift it earlier in the admin. The address is locked too (5 failures
# from one address, whatever the user names: password spraying). An office whose staff all sign in from
# behind one NAT address may turn the address rule off with ZHIZE_LOCKOUT_BY_ADDRESS=false.
AXES_FAILURE_LIMIT = env_int("ZHIZE_LOCKOUT_FAILURES", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("ZHIZE_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = (
    ["username", "ip_address"] if env_bool("ZHIZE_LOCKOUT_BY_ADDRESS", True) else ["username"]
)
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False

# Idle timeout: the session lives SESSION_COOKIE_AGE past the last request, because requests renew it
# (core.middleware.IdleTimeoutMiddleware: at most once a minute, not on every request).
SESSION_COOKIE_AGE = env_int("ZHIZE_IDLE_TIMEOUT_MINUTES", 30) * 60
SESSION_SAVE_EVERY_REQUEST = False
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# --- Language and time ----------------------------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
# Each language is named in itself, so the switch reads the same whatever language is active.
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "Asia/Shanghai"
USE_TZ = True

# --- Static files ---------------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS: list[Path | tuple[str, Path]] = [BASE_DIR / "static"]
# ECharts for the dashboard, from the npm registry (package.json; `make install` runs `npm ci`), served as
# /static/vendor/echarts/echarts.min.js and never copied into the repository. Listed only when installed:
# without Node.js the dashboard shows its tables alone, and a missing directory here would be a warning
# that `check --deploy --fail-level WARNING` fails on.
ECHARTS_DIR = BASE_DIR / "node_modules" / "echarts" / "dist"
if ECHARTS_DIR.is_dir():
    STATICFILES_DIRS.append(("vendor/echarts", ECHARTS_DIR))
MEDIA_ROOT = VAR_DIR / "media"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# --- Redis, cache and Celery ----------------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL") or ""
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or None

# After an edition, a process that has the registry's vocabulary keeps searching and routing with it while
# a thread loads the new one (seconds at 100,000 duties) instead of making that request wait.
ZHIZE_SEARCH_RELOAD_IN_BACKGROUND = env_bool("ZHIZE_SEARCH_RELOAD_IN_BACKGROUND", True)

# --- Grievances ----------------------------------------------------------------------------------------
# Dispatch automatically when the router is at least this sure; below it the grievance waits for a dispatcher.
# Used until a router version measured its own threshold on the office's history (for this precision).
ZHIZE_AUTO_DISPATCH_CONFIDENCE = float(env_str("ZHIZE_AUTO_DISPATCH_CONFIDENCE", "0.85") or 0.85)
ZHIZE_AUTO_DISPATCH_PRECISION = float(env_str("ZHIZE_AUTO_DISPATCH_PRECISION", "0.95") or 0.95)
# A grievance returned this many times, or sent to this many agencies, becomes a pushback dispute.
ZHIZE_BOUNCE_RETURNS = env_int("ZHIZE_BOUNCE_RETURNS", 2)
ZHIZE_BOUNCE_AGENCIES = env_int("ZHIZE_BOUNCE_AGENCIES", 3)
# This many recent grievances sharing words and matching no duty become a gap dispute.
ZHIZE_UNLISTED_CLUSTER_SIZE = env_int("ZHIZE_UNLISTED_CLUSTER_SIZE", 3)
ZHIZE_UNLISTED_CLUSTER_DAYS = env_int("ZHIZE_UNLISTED_CLUSTER_DAYS", 30)
# 吹哨报到: a summoned department reports within this many minutes.
ZHIZE_WHISTLE_REPORT_MINUTES = env_int("ZHIZE_WHISTLE_REPORT_MINUTES", 30)

# --- API ------------------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    # Token first: an unauthenticated call then gets 401 with "WWW-Authenticate: Token", as HTTP asks.
    # Sessions keep CSRF checks on, so a page's scripts can call the API but another site cannot.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "core.api.pagination.KeysetPagination",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.errors.exception_handler",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "PAGE_SIZE": 50,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "zhize API",
    "DESCRIPTION": (
        "Duty lists, responsibility disputes and grievance routing. Every error has the shape "
        '`{"error": {"code", "message", "details"}}`.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Several models have a field called "kind"; name each choice set after its own enum.
    "ENUM_NAME_OVERRIDES": {
        "AgencyKindEnum": "duty_lists.models.AgencyKind",
        "DutyListKindEnum": "duty_lists.models.DutyListKind",
        "AmendmentKindEnum": "duty_lists.models.AmendmentKind",
        "AmendmentStateEnum": "duty_lists.models.AmendmentState",
        "DisputeKindEnum": "arbitration.models.DisputeKind",
        "RulingKindEnum": "arbitration.models.RulingKind",
        "DisputeStateEnum": "arbitration.models.DisputeState",
        "FollowUpStateEnum": "arbitration.models.FollowUpState",
        "DisputeUrgencyEnum": "arbitration.models.Urgency",
        "GrievanceKindEnum": "grievances.models.GrievanceKind",
        "GrievanceStateEnum": "grievances.models.GrievanceState",
        "GrievanceUrgencyEnum": "grievances.models.GrievanceUrgency",
        "OrderStateEnum": "grievances.models.OrderState",
        "OrderRoleEnum": "grievances.models.OrderRole",
        "HandoverStateEnum": "grievances.models.HandoverState",
    },
}

# --- Logging --------------------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"axes": {"level": "WARNING"}},
}
CSRF_FAILURE_VIEW = "core.views.csrf_failure"
