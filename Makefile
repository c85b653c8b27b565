# Paylane: `make run` serves the app, `make test` runs the whole suite.
# Both set everything up first (virtualenv, packages, local settings, database).
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
# Local services used by the PostgreSQL/Redis pass of `make test` when they answer.
LOCAL_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/paylane
LOCAL_REDIS_URL ?= redis://127.0.0.1:6379/0
# Every pass of `make test` ends with its slowest tests: where CI's time goes (.ci/run, about 30 minutes at most).
PYTEST_DURATIONS ?= --durations=15

.PHONY: run serve test test-sqlite test-postgres setup migrate lint bench clean cluster-up cluster-down cluster-status cluster-test

$(VENV)/.installed: requirements.txt
	@python=$$(scripts/find-python) || exit 1; \
	  [ -x $(PY) ] || $$python -m venv $(VENV); \
	  $(PY) -m pip install --quiet --upgrade pip && \
	  $(PY) -m pip install --quiet -r requirements.txt && touch $@

# Development settings for this checkout: DEBUG on and a generated secret, never committed.
.env:
	@printf 'DEBUG=1\nSECRET_KEY=%s\n' "$$(head -c 48 /dev/urandom | base64 | tr -d '\n/+=')" > $@
	@echo "wrote .env (development settings: DEBUG=1, generated SECRET_KEY)"

setup: $(VENV)/.installed .env
	@$(PY) manage.py collectstatic --noinput -v0

migrate: setup
	$(PY) manage.py migrate --noinput

# Metrics of every server process add up through this folder (prometheus-client's multiprocess
# mode, docs/operations.md); emptied at each start, as prometheus-client asks.
PROMETHEUS_MULTIPROC_DIR ?= $(CURDIR)/.run/prometheus

# The development server with the task worker and the scheduler beside it (deploy/Procfile.dev).
run: migrate
	@mkdir -p "$(PROMETHEUS_MULTIPROC_DIR)" && rm -f "$(PROMETHEUS_MULTIPROC_DIR)"/*.db
	@echo "Paylane: http://$(HOST):$(PORT)/  (Ctrl-C stops the server, the worker and the scheduler)"
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" HOST=$(HOST) PORT=$(PORT) PROMETHEUS_MULTIPROC_DIR="$(PROMETHEUS_MULTIPROC_DIR)" \
	  $(VENV)/bin/honcho start -f deploy/Procfile.dev -d .

# Production mode on this host: nginx (TLS) on HOST:PORT in front of the HTTP workers and the
# websocket server (deploy/Procfile, run by honcho). Needs SECRET_KEY, DATABASE_URL (PostgreSQL)
# and REDIS_URL in the environment; installs Debian's nginx when missing. docs/operations.md.
serve: setup
	HOST=$(HOST) PORT=$(PORT) exec $(PY) deploy/serve.py

test: setup
	@$(MAKE) --no-print-directory test-sqlite
	@if [ -n "$$DATABASE_URL" ] || $(PY) scripts/services-up.py "$(LOCAL_DATABASE_URL)" "$(LOCAL_REDIS_URL)"; then \
	  $(MAKE) --no-print-directory test-postgres; \
	else echo "PostgreSQL/Redis not reachable: PostgreSQL pass skipped (set DATABASE_URL and REDIS_URL to run it)"; fi
	@if [ "$$(id -u)" = 0 ] && [ -z "$$PAYLANE_SKIP_CLUSTER" ]; then $(MAKE) --no-print-directory cluster-test; \
	else echo "cluster pass skipped (it needs root, to run PostgreSQL under Patroni as the postgres user; or PAYLANE_SKIP_CLUSTER is set)"; fi

test-sqlite: setup
	@echo "== test suite on SQLite + in-memory channel layer"
	env -u DATABASE_URL -u REDIS_URL $(PY) -m pytest $(PYTEST_DURATIONS) $(PYTEST_ARGS)

test-postgres: setup
	@echo "== test suite on PostgreSQL + Redis"
	DATABASE_URL=$${DATABASE_URL:-$(LOCAL_DATABASE_URL)} REDIS_URL=$${REDIS_URL:-$(LOCAL_REDIS_URL)} \
	  $(PY) -m pytest $(PYTEST_DURATIONS) $(PYTEST_ARGS)

# Benchmarks against the local PostgreSQL and Redis (databases of their own); figures in
# docs/performance.md. All of them at full size take about 10 minutes; one of them:
# `make bench BENCH=latency BENCH_ARGS="--sockets 2000"`. Then the plots (matplotlib).
# transfers_rtt puts a PostgreSQL of its own 0.5 ms away (bench/netem.py: a network namespace; root).
BENCH ?= transfers transfers_rtt http http_profile latency sockets handshake
$(VENV)/.bench-installed: requirements-bench.txt $(VENV)/.installed
	bench/install-system-packages
	$(PY) -m pip install --quiet -r requirements-bench.txt && touch $@

bench: setup $(VENV)/.bench-installed
	@set -e; for name in $(BENCH); do echo "== bench $$name"; $(PY) -m bench $$name $(BENCH_ARGS); done
	$(PY) -m bench plot

# The cluster on this machine (docs/scaling.md, "The cluster"): etcd, PostgreSQL under Patroni,
# HAProxy, PgBouncer, Redis with Sentinel and CLUSTER_APP_HOSTS app hosts, in CLUSTER_DIR; as root.
CLUSTER_DIR ?= /tmp/paylane-cluster
CLUSTER_APP_HOSTS ?= 2
cluster-up: setup
	deploy/cluster/up --dir "$(CLUSTER_DIR)" --app-hosts $(CLUSTER_APP_HOSTS) $(CLUSTER_ARGS)

cluster-down:
	deploy/cluster/down --dir "$(CLUSTER_DIR)"

cluster-status:
	deploy/cluster/status --dir "$(CLUSTER_DIR)"

# The failover tests (tests/cluster/): each part of the cluster killed under load. The third pass of
# `make test` (as root; PAYLANE_SKIP_CLUSTER=1 skips it); the other two leave tests/cluster/ out
# (tests/conftest.py collects it only with PAYLANE_CLUSTER_TEST=1). The tests
# need no database of the suite's (hence no DATABASE_URL/REDIS_URL): they use the cluster's.
cluster-test: setup
	env -u DATABASE_URL -u REDIS_URL PAYLANE_CLUSTER_TEST=1 $(PY) -m pytest -p no:randomly $(PYTEST_DURATIONS) tests/cluster $(PYTEST_ARGS)

$(VENV)/.lint-installed: requirements-lint.txt $(VENV)/.installed
	$(PY) -m pip install --quiet -r requirements-lint.txt && touch $@

lint: setup $(VENV)/.lint-installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy project wallets ledger realtime jobs telemetry bench deploy
	$(VENV)/bin/lint-imports --no-cache
	@scripts/audit-dependencies $(VENV)/bin/pip-audit requirements.txt

clean:
	rm -rf $(VENV) .pytest_cache db.sqlite3 staticfiles .run
