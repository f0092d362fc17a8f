#!/bin/sh
# EMQX entrypoint wrapper: writes the built-in database bootstrap file from the
# environment, turns the TLS listener on when certificates are mounted, then
# runs the image's own entrypoint.
#
# Why: the MQTT passwords must not live in the repository or the image. EMQX
# reads this file when it creates the authenticator and hashes the passwords
# (PBKDF2-SHA512, emqx.conf) into its database; the file itself stays inside
# the container, in a directory only the emqx user can read. Without a data
# volume the users are rebuilt from the environment at every start, so rotating
# a password is: change .env, `docker compose up -d emqx`.
#
# Users: grid-ingest-replica-1..64 (one per ingest replica slot, see
# deploy/ingest/replica_slot.py; the username is the client id, emqx.conf),
# grid-simulator (the simulator service) and grid-dagster (the code server).
set -eu

INGEST_SLOTS=64   # replica_slot.py --max
# Fixed in the container; the variables exist for grid_pipeline_tests, which run
# this script outside one (test_production_emqx.py).
TLS_DIR="${GRID_EMQX_TLS_DIR:-/opt/grid/tls}"
BOOTSTRAP_DIR="${GRID_EMQX_BOOTSTRAP_DIR:-/tmp/grid-emqx}"
IMAGE_ENTRYPOINT="${GRID_EMQX_IMAGE_ENTRYPOINT:-/usr/bin/docker-entrypoint.sh}"

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
check GRID_MQTT_DAGSTER_PASSWORD "${GRID_MQTT_DAGSTER_PASSWORD:-}"

umask 077
mkdir -p "$BOOTSTRAP_DIR"
{
    echo "user_id,password,is_superuser"
    slot=1
    while [ "$slot" -le "$INGEST_SLOTS" ]; do
        echo "grid-ingest-replica-${slot},${GRID_MQTT_INGEST_PASSWORD},false"
        slot=$((slot + 1))
    done
    echo "grid-simulator,${GRID_MQTT_SIMULATOR_PASSWORD},false"
    echo "grid-dagster,${GRID_MQTT_DAGSTER_PASSWORD},false"
} > "$BOOTSTRAP_DIR/auth-bootstrap.csv"

# TLS on 8883 only with both the certificate and its key; one without the other
# is a mistake worth stopping for, not a reason to serve plain text silently.
if [ -r "$TLS_DIR/server.crt" ] && [ -r "$TLS_DIR/server.key" ]; then
    export EMQX_LISTENERS__SSL__DEFAULT__ENABLE=true
    export EMQX_LISTENERS__SSL__DEFAULT__SSL_OPTIONS__CERTFILE="\"$TLS_DIR/server.crt\""
    export EMQX_LISTENERS__SSL__DEFAULT__SSL_OPTIONS__KEYFILE="\"$TLS_DIR/server.key\""
    if [ -r "$TLS_DIR/ca.crt" ]; then
        export EMQX_LISTENERS__SSL__DEFAULT__SSL_OPTIONS__CACERTFILE="\"$TLS_DIR/ca.crt\""
    fi
    echo "entrypoint: MQTT over TLS on 8883 with $TLS_DIR/server.crt"
elif [ -e "$TLS_DIR/server.crt" ] || [ -e "$TLS_DIR/server.key" ]; then
    echo "entrypoint: $TLS_DIR needs both server.crt and server.key, readable by $(id -un)" >&2
    exit 1
else
    echo "entrypoint: no certificate in $TLS_DIR: the TLS listener (8883) stays off"
fi

exec "$IMAGE_ENTRYPOINT" "$@"
