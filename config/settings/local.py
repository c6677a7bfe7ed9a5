"""Embedded defaults for one machine with nothing but Python: SQLite under var/ and a Celery broker kept in
files under var/celery, so that web, worker and beat run without any server."""

from config.settings.base import *  # noqa: F403
from config.settings.base import VAR_DIR
from config.settings.env import env_bool, env_list, env_str

DEBUG = env_bool("DJANGO_DEBUG", True)
# A fixed key is fine here: this settings module is never used to serve the public (production refuses it).
SECRET_KEY = env_str("SECRET_KEY") or "local-only-insecure-key-zhize-do-not-use-in-production"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])

if not env_str("REDIS_URL"):
    _queue = VAR_DIR / "celery" / "queue"
    _processed = VAR_DIR / "celery" / "processed"
    _control = VAR_DIR / "celery" / "control"
    for _folder in (_queue, _processed, _control):
        _folder.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue),
        "data_folder_out": str(_queue),
        "processed_folder": str(_processed),
        "store_processed": False,
        "control_folder": str(_control),
    }
    CELERY_RESULT_BACKEND = None
    # Web and worker are separate processes: what one writes to the cache (an import's progress) the other
    # must read, which an in-process cache cannot do.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
EMAIL_FILE_PATH = VAR_DIR / "mail"
