# The two commands of the README: `make run` and `make test`. Everything else supports them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
PG_TEST_URL ?= postgres://postgres@127.0.0.1:5432/test

.PHONY: run test test-sqlite test-postgres test-browser lint format install lock demo bench clean

# Installs read only the locks, which pin every transitive dependency.
$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

# After changing requirements.in or requirements-dev.in: compile both locks again.
LOCK_FLAGS := --quiet --strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links --no-emit-trusted-host
lock: $(STAMP)
	$(BIN)/pip-compile $(LOCK_FLAGS) --output-file requirements.txt requirements.in
	$(BIN)/pip-compile $(LOCK_FLAGS) --output-file requirements-dev.txt requirements-dev.in

# This checkout's settings for manage.py (git-ignored, written once): DEBUG on and a secret key of its
# own, so that the README's manage.py commands work as written. The environment wins over the file;
# the test suite and gunicorn never read it; production sets its variables in the environment.
.env:
	@printf '# Settings of this checkout, read by manage.py only (written by make run; git-ignored).\nDEBUG=1\nSECRET_KEY=%s\n' \
		"$$($(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(50))')" > $@
	@echo "Wrote .env: DEBUG=1 and a generated SECRET_KEY for manage.py in this checkout."

# Set up, migrate, load demo data into an empty database, create a login, and serve on $(HOST):$(PORT).
run: $(STAMP) .env
	DEBUG=1 $(BIN)/python manage.py migrate --no-input -v0
	DEBUG=1 $(BIN)/python manage.py seed_demo --if-empty
	DEBUG=1 $(BIN)/python manage.py ensure_admin
	@echo "Backoffice is at http://$(HOST):$(PORT)/  (login: admin / admin)"
	@# The background worker runs beside the web server and stops with it.
	DEBUG=1 $(BIN)/python manage.py worker & worker=$$!; trap 'kill $$worker 2>/dev/null; wait $$worker' EXIT INT TERM; \
		DEBUG=1 $(BIN)/python manage.py runserver $(HOST):$(PORT)

demo: $(STAMP) .env
	DEBUG=1 $(BIN)/python manage.py migrate --no-input -v0
	DEBUG=1 $(BIN)/python manage.py seed_demo --if-empty

# The whole suite: lint, SQLite, PostgreSQL (when reachable) and the browser tests.
test: $(STAMP) lint test-sqlite test-postgres test-browser

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	SECRET_KEY=lint $(BIN)/python manage.py makemigrations --check --dry-run -v0

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test-sqlite: $(STAMP)
	SECRET_KEY=tests DATABASE_URL=sqlite:///test.sqlite3 $(BIN)/pytest -q -m "not browser"

# PostgreSQL and Chromium are not Python packages: without them these say so and stop short (CI has both).
# The PostgreSQL run starts a hot standby of its server for the read-replica tests (.ci/standby) and
# removes it after; where one cannot start, the script says why and those tests are skipped.
test-postgres: $(STAMP)
	@if $(BIN)/python tests/postgres_ready.py '$(PG_TEST_URL)'; then \
		replica="$$(PRIMARY_URL='$(PG_TEST_URL)' .ci/standby start)" || echo "No hot standby: skipping the read-replica tests."; \
		SECRET_KEY=tests DATABASE_URL=$(PG_TEST_URL) TEST_REPLICA_URL=$$replica $(BIN)/pytest -q -m "not browser"; \
		status=$$?; if [ -n "$$replica" ]; then .ci/standby stop; fi; exit $$status; \
	else echo "Skipping the PostgreSQL run (PG_TEST_URL=$(PG_TEST_URL))."; fi

test-browser: $(STAMP)
	@if [ -x /usr/bin/chromium ]; then \
		SECRET_KEY=tests DATABASE_URL=sqlite:///test.sqlite3 $(BIN)/pytest -q -m browser; \
	else echo "Chromium is not installed (apt-get install chromium): skipping the browser tests."; fi

# Benchmarks: build (or reuse) a data set of BENCH_SCALE × full scale, measure, print one table. Real
# figures need PostgreSQL: DATABASE_URL=postgres://…/bench make bench BENCH_SCALE=0.1
BENCH_SCALE ?= 0.001
bench: $(STAMP)
	SECRET_KEY=$${SECRET_KEY:-bench} DATABASE_URL=$${DATABASE_URL:-sqlite:///bench.sqlite3} \
		$(BIN)/python -m tests.bench --scale $(BENCH_SCALE) $(BENCH_ARGS)
	@# Then the micro-benchmarks (DAG layout and drawing), which need no data set.
	@for file in tests/bench/bench_*.py; do SECRET_KEY=bench $(BIN)/python -m tests.bench.$$(basename $$file .py); done

clean:
	rm -rf $(VENV) staticfiles test-output
