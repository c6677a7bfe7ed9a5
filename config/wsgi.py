import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
application = get_wsgi_application()

# Load the URLconf now, then move everything loaded so far out of the garbage collector's sight: a full
# collection over a warm process's ~100,000 long-lived objects takes ~60 ms, and at one every ~20 requests
# it was the whole of the list endpoint's p99 (bench/registry.py). Workers forked by gunicorn also keep
# these pages shared instead of copying them when the collector touches their headers.
get_resolver().url_patterns  # noqa: B018
gc.collect()
gc.freeze()
