# The two commands a newcomer needs: `make run` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
# Embedded stores live under ./data unless the caller says otherwise.
export LEADWATCH_DATA_DIR ?= $(CURDIR)/data

.PHONY: run test bench install system-deps clean frontend

$(BIN)/python:
	@$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); \
	  echo "could not create a virtualenv: on Debian, apt-get install python3-venv" >&2; exit 1; }

# Reinstall whenever pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@

install: $(VENV)/.installed

# The browser bundles (npm packages, no CDN): rebuilt when the sources or the lock change.
frontend/node_modules/.package-lock.json: frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund

frontend: frontend/node_modules/.package-lock.json
	cd frontend && npm run build

run: install frontend
	$(BIN)/leadwatch migrate
	@echo
	@echo "  leadwatch UI:   http://127.0.0.1:$(PORT)/ui/  (data in $(LEADWATCH_DATA_DIR); Ctrl-C stops)"
	@echo "  demo site:      http://127.0.0.1:$(PORT)/demo/  (simulated traffic; leadwatch demo reset removes it)"
	@echo "  first login:    .venv/bin/leadwatch user create admin   (in another terminal, while it runs)"
	@echo
	$(BIN)/leadwatch serve --port $(PORT) --demo

system-deps:
	@scripts/install-system-deps.sh

test: install system-deps frontend
	$(BIN)/pytest

bench: install system-deps frontend
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis bench/results
