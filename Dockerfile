# syntax=docker/dockerfile:1
# One image for every zhize process: web (gunicorn, the default command), the Celery worker and beat, and the
# one-shot migrate step (docker/migrate.sh). docker-compose.yml wires them together; see docs/deploy.md.

# The dashboard's chart library from the npm registry (package.json, locked by package-lock.json). Only its
# one minified file goes into the image; Node.js stays in this build stage.
FROM node:20-slim AS browser-libraries
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

# An unprivileged account with a writable home of its own (gunicorn >= 25 keeps its control socket in
# ~/.gunicorn). The application files stay root-owned: the app can read its code but not change it.
RUN groupadd --system --gid 10001 zhize \
    && useradd --system --uid 10001 --gid zhize --create-home --home-dir /home/zhize \
        --shell /usr/sbin/nologin zhize

WORKDIR /app

# Dependencies first, from pyproject.toml alone, so this layer is rebuilt only when they change.
# zhize runs from its checkout ([tool.setuptools] packages = []): `pip install .` installs only the
# dependencies. The in-tree build leaves build/ and zhize.egg-info/ behind; they are not needed.
COPY pyproject.toml ./
RUN pip install --no-cache-dir . \
    && rm -rf build zhize.egg-info

COPY . .
# Where config/settings/base.py looks for it (STATICFILES_DIRS); collectstatic below picks it up.
COPY --from=browser-libraries /build/node_modules/echarts/dist/echarts.min.js node_modules/echarts/dist/

# Compile translations and collect static files into staticfiles/ (served by whitenoise). Production
# settings refuse to load without their required variables, so this step alone gets harmless placeholders:
# nothing connects to them during these two commands, and none of them is left in the image's environment.
RUN export DJANGO_SETTINGS_MODULE=config.settings.production \
        SECRET_KEY=build-time-placeholder-not-used-at-runtime \
        ALLOWED_HOSTS=localhost \
        DATABASE_URL=postgres://build:build@127.0.0.1:5432/build \
        REDIS_URL=redis://127.0.0.1:6379/0 \
    && python manage.py compile_translations \
    && python manage.py collectstatic --noinput

# Byte-compile the application once here: at run time the code is read-only to the app user, so every
# process would otherwise compile it again on each start.
RUN python -m compileall -q .

# The only writable state: uploads (var/media) and the beat schedule (var/beat). Named volumes mounted here
# start out with this ownership, so the unprivileged user can write to them.
RUN mkdir -p var/media var/beat \
    && chown -R zhize:zhize var

# WEB_CONCURRENCY is gunicorn's own default for --workers: 3 suits a small machine, (2 x cores) + 1 a
# dedicated one. Override it in the environment rather than editing the command.
ENV DJANGO_SETTINGS_MODULE=config.settings.production \
    WEB_CONCURRENCY=3

USER 10001:10001
EXPOSE 8000

# Access log to stdout, errors to stderr; worker heartbeats on tmpfs (/dev/shm), as gunicorn advises for
# containers. TLS is not terminated here: a reverse proxy in front must do it (docs/deploy.md).
CMD ["gunicorn", "config.wsgi:application", \
     "--bind", "0.0.0.0:8000", \
     "--access-logfile", "-", \
     "--error-logfile", "-", \
     "--worker-tmp-dir", "/dev/shm"]
