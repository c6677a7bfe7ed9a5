"""Settings for the test suite.

PostgreSQL and Redis are used when DATABASE_URL / REDIS_URL name them, else when they answer on 127.0.0.1
(as on the development machines and CI), else the suite falls back to SQLite and skips what needs the real
services — tests/conftest.py lists those skips by name at the end of the run, and refuses them under CI.
"""

import os
import socket

import dj_database_url

from config.settings.base import *  # noqa: F403
from config.settings.env import env_str


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


_database_url = env_str("DATABASE_URL")
if not _database_url and _answers("127.0.0.1", 5432):
    _database_url = "postgres://postgres@127.0.0.1:5432/zhize"
if _database_url:
    DATABASES = {"default": dj_database_url.parse(_database_url)}
    # Two checkouts testing against one server at once need different test databases.
    if _test_db := env_str("ZHIZE_TEST_DATABASE"):
        DATABASES["default"]["TEST"] = {"NAME": _test_db}
else:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}

REDIS_URL = env_str("REDIS_URL") or ("redis://127.0.0.1:6379/15" if _answers("127.0.0.1", 6379) else "")
# Tests run their own worker (tests/test_celery.py) against this broker; unit tests never need one.
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or None
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

DEBUG = False
SECRET_KEY = "test-only-key-zhize-0123456789-abcdefghijklmnopqrstuvwxyz"  # noqa: S105
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed: tests hash many passwords
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# A test's rows are in its own open transaction, which a reloading thread's connection cannot see; the one
# test of the background reload commits its rows and switches this on.
ZHIZE_SEARCH_RELOAD_IN_BACKGROUND = False
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's event loop shares the test thread
