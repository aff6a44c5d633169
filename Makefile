# The two commands a newcomer needs:
#   make run    install everything, then run the service + Stripe sandbox (+ worker) on SQLite
#   make test   install everything, then run the whole suite on SQLite, MariaDB and PostgreSQL,
#               browser tests included

VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
TEST_MYSQL_URL ?= mysql+pymysql://root@127.0.0.1/checkout_test
# The role scripts/ensure-services.sh creates; the suite drops and recreates the database.
TEST_POSTGRES_URL ?= postgresql+psycopg://checkout_test:checkout_test@127.0.0.1/checkout_test

# Where the web and worker processes of `make run` share their Prometheus samples.
METRICS_DIR := instance/prometheus

.PHONY: install run test test-sqlite test-mysql test-postgres services lint bench

# `make run` (honcho) and `make test` both need the development tools, so both install
# requirements-dev.txt (which includes requirements.txt); production installs requirements.txt only.
$(BIN)/activate: requirements.txt requirements-dev.txt
	python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $(BIN)/activate

install: $(BIN)/activate

# The development settings, written once so that every `flask --app wsgi …` command in a new shell
# uses them (the sandbox, never real Stripe; SQLite; fixed development secrets, so that the web
# process, the worker and the CLI derive the same webhook secrets). Delete .env to rewrite it.
.env:
	@printf '%s\n' \
		'# Development settings written by `make run` (delete this file to rewrite it; see .env.example).' \
		'APP_ENV=development' \
		'SECRET_KEY=dev-only-not-secret' \
		'STRIPE_API_BASE=http://127.0.0.1:12111' \
		'STRIPE_SECRET_KEY=sk_test_sandbox' \
		'STRIPE_WEBHOOK_SECRET=whsec_sandbox' \
		'# Test mode (mk_test_ keys) on the same sandbox: it is one account, so the same key and secret.' \
		'STRIPE_TEST_SECRET_KEY=sk_test_sandbox' \
		'STRIPE_TEST_WEBHOOK_SECRET=whsec_sandbox' \
		'PUBLIC_BASE_URL=http://127.0.0.1:$(PORT)' \
		'WEBHOOK_ALLOW_PRIVATE_URLS=1' > $@
	@echo "Wrote .env with development settings."

# The last thing `make run` prints (process `ready` in Procfile.dev, once /readyz answers 200) is
# one block: the URLs, the demo API key, a ready-to-paste curl and how to stop.
run: install .env
	@$(BIN)/flask --app wsgi db upgrade
	@rm -rf $(METRICS_DIR) && mkdir -p $(METRICS_DIR)
	@PATH=$(CURDIR)/$(BIN):$$PATH PROMETHEUS_MULTIPROC_DIR=$(CURDIR)/$(METRICS_DIR) \
		$(BIN)/honcho -f Procfile.dev start

services:
	./scripts/ensure-services.sh

test: install services
	$(MAKE) --no-print-directory test-sqlite test-mysql test-postgres

test-sqlite: install
	$(BIN)/pytest -q -p no:cacheprovider

test-mysql: install
	TEST_DATABASE_URL=$(TEST_MYSQL_URL) $(BIN)/pytest -q -p no:cacheprovider

test-postgres: install
	TEST_DATABASE_URL=$(TEST_POSTGRES_URL) $(BIN)/pytest -q -p no:cacheprovider

lint: install
	$(BIN)/ruff check app sandbox tests bench
	$(BIN)/ruff format --check app sandbox tests bench
	$(BIN)/mypy app/payments app/stripe_gateway.py

# The benchmark (issue 9): service vs a bare floor app vs a quickstart-style peer, on MariaDB,
# against a Stripe stand-in; prints a table. A few minutes; needs wrk (Debian's, installed here).
bench: install services
	@command -v wrk >/dev/null || { if [ "$$(id -u)" -eq 0 ]; then apt-get install -y -qq wrk; else sudo apt-get install -y -qq wrk; fi; }
	$(BIN)/python -m bench $(BENCH_ARGS)
