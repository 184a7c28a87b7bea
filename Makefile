# gedflow — two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test system-deps setup lint bench

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

# gpg and the PostgreSQL server binaries (tests start a throwaway cluster).
system-deps:
	@command -v gpg >/dev/null || (apt-get update && apt-get install -y gnupg)
	@command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
	  || (apt-get update && apt-get install -y postgresql)

# The service: local Prefect server (UI on http://127.0.0.1:4200), scheduled deployments and
# the inbox watcher, until Ctrl-C.
run: $(STAMP) system-deps
	$(BIN)/gedflow init
	$(BIN)/gedflow serve

test: $(STAMP) system-deps
	$(BIN)/python -m ruff check gedflow schemas tasks flows tests benchmarks
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/python -m ruff check gedflow schemas tasks flows tests benchmarks

bench: $(STAMP)
	$(BIN)/python benchmarks/registry_import.py
	$(BIN)/python benchmarks/dpae.py
	$(BIN)/python benchmarks/encrypt.py
	$(BIN)/python benchmarks/ar.py
	$(BIN)/python benchmarks/crm.py
	$(BIN)/python benchmarks/latency.py
	$(BIN)/python benchmarks/dsn.py
	$(BIN)/python benchmarks/dsn_controle.py
	$(BIN)/python benchmarks/cli.py
