#!/bin/sh
# EMQX entrypoint wrapper: writes the built-in database bootstrap file from the
# environment, then runs the image's own entrypoint.
#
# Why: the MQTT passwords must not live in the repository or the image. EMQX
# reads this file when it creates the authenticator and hashes the passwords
# (pbkdf2) into its database; the file itself stays inside the container, in a
# directory only the emqx user can read. Without a data volume the users are
# rebuilt from the environment at every start, so rotating a password is:
# change .env, `docker compose up -d emqx`.
set -eu

check() {
    # $1 = variable name, $2 = value: required, and CSV-safe (no comma, quote, newline).
    if [ -z "$2" ]; then
        echo "entrypoint: $1 is not set" >&2
        exit 1
    fi
    case "$2" in
        *,* | *\"* | *"
"*)
            echo "entrypoint: $1 must not contain a comma, a quote or a newline" >&2
            exit 1
            ;;
    esac
}

check GRID_MQTT_INGEST_PASSWORD "${GRID_MQTT_INGEST_PASSWORD:-}"
check GRID_MQTT_SIMULATOR_PASSWORD "${GRID_MQTT_SIMULATOR_PASSWORD:-}"

umask 077
mkdir -p /tmp/grid-emqx
{
    echo "user_id,password,is_superuser"
    echo "grid-ingest,${GRID_MQTT_INGEST_PASSWORD},false"
    echo "grid-simulator,${GRID_MQTT_SIMULATOR_PASSWORD},false"
} > /tmp/grid-emqx/auth-bootstrap.csv

exec /usr/bin/docker-entrypoint.sh "$@"
