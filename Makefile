# envlake — two commands on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
UV_VERSION := 0.13.9
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
PYTEST_ARGS ?=
# three test processes on two cores: the long tests (the demos, the Celery cluster) mostly wait on subprocesses
PYTEST_WORKERS ?= 3

.PHONY: help bootstrap sync browser demo test test-fast lint bench clean superset superset-stop cluster cluster-stop

help:
	@echo "make demo   - start the simulated departments, run the ingestion DAGs once, print the lake"
	@echo "make test   - lint and run every test (unit, integration, DAGs, end-to-end)"
	@echo "make bench  - run the benchmarks, figures in bench/results.json"
	@echo "make superset / superset-stop - the local Superset with the dashboards deployed"
	@echo "make cluster / cluster-stop - Airflow on two Celery workers (PostgreSQL metadata, Redis broker)"
	@echo "make clean  - remove the demo lake, simulators' files and Airflow metadata"

bootstrap:
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || \
		python3 -m pip install --quiet "uv==$(UV_VERSION)"

sync: bootstrap
	@$(UV) sync --locked --quiet

# Debian's Chromium and CJK fonts for the catalogue's browser test (Playwright cannot download a browser here).
browser:
	@command -v chromium >/dev/null 2>&1 && fc-list 2>/dev/null | grep -qi "noto.*cjk" || \
		{ apt-get install -y --no-install-recommends chromium fonts-noto-cjk >/dev/null 2>&1 || \
		  { apt-get update >/dev/null 2>&1 && apt-get install -y --no-install-recommends chromium fonts-noto-cjk >/dev/null; }; }

demo: sync
	@$(UV) run envlake demo

# ruff, then the layers (.importlinter: each layer imports only the ones below it)
lint: sync
	@$(UV) run ruff check .
	@$(UV) run lint-imports --no-cache --no-logo

# --no-loadscope-reorder: keep the order tests/conftest.py gives (the longest files first, one per worker);
# by default xdist puts the files with the most tests first, and the one-test demos ran last, one after another.
test: lint browser
	@$(UV) run pytest -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)

test-fast: sync
	@$(UV) run pytest -m "not integration and not airflow and not e2e" $(PYTEST_ARGS)

superset: sync
	@$(UV) run envlake dashboards up
	@$(UV) run envlake dashboards deploy

superset-stop:
	@$(UV) run envlake dashboards stop

cluster: sync
	@$(UV) run envlake cluster up

cluster-stop:
	@$(UV) run envlake cluster down

bench: sync
	@$(UV) run python -m bench.run
	@$(UV) run python -m bench.dbt_build
	@$(UV) run python -m bench.access
	@$(UV) run python -m bench.scaling_build
	@$(UV) run python -m bench.object_store
	@$(UV) run python -m bench.cluster

clean:
	rm -rf lake sim .airflow .superset .cluster
