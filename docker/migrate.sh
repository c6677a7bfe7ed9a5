#!/bin/sh
# The one-shot release step, run by the `migrate` service of docker-compose.yml before web, worker and beat
# start. Both commands are idempotent, so running it again (every `docker compose up`) is safe; just never
# run two at the same time.
set -eu

python manage.py migrate --noinput

# Demo data only on request (ZHIZE_LOAD_DEMO=1 in .env): never part of a production start.
case "${ZHIZE_LOAD_DEMO:-0}" in
    1 | true | TRUE | True | yes | on)
        echo "ZHIZE_LOAD_DEMO=${ZHIZE_LOAD_DEMO}: loading demo data"
        python manage.py load_demo
        ;;
esac
