# syntax=docker/dockerfile:1
# The Grid Pipeline image: one image for every project service of
# docker-compose.yml (migrate, Dagster code server/webserver/daemon, ingest,
# simulator, dashboard); the command differs per service.
#
# The embedded engine (Node + PGlite) is not used in production: its
# node_modules are excluded by .dockerignore and GRID_DATABASE_URL /
# GRID_MQTT_URL always point at the compose services.

ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY grid_pipeline ./grid_pipeline
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install .

FROM ${PYTHON_IMAGE}
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONPATH=/app \
    GRID_SQL_DIR=/app/sql \
    GRID_DATA_DIR=/tmp/grid \
    DAGSTER_HOME=/opt/dagster/home
RUN groupadd --system --gid 10001 grid \
    && useradd --system --uid 10001 --gid grid --home-dir /app --shell /usr/sbin/nologin grid \
    && mkdir -p /opt/dagster/home/storage \
    && chown -R grid:grid /opt/dagster
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY sql ./sql
COPY dashboard ./dashboard
COPY deploy/db ./deploy/db
COPY deploy/dagster/workspace.yaml /opt/dagster/workspace.yaml
COPY deploy/dagster/dagster.yaml /opt/dagster/home/dagster.yaml
USER grid
CMD ["grid-pipeline", "--help"]
