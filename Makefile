# The two commands a newcomer needs: `make run` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
# Embedded stores live under ./data unless the caller says otherwise.
export LEADWATCH_DATA_DIR ?= $(CURDIR)/data

.PHONY: run test bench install system-deps clean

$(BIN)/python:
	@$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); \
	  echo "could not create a virtualenv: on Debian, apt-get install python3-venv" >&2; exit 1; }

# Reinstall whenever pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@

install: $(VENV)/.installed

run: install
	$(BIN)/leadwatch migrate
	@echo
	@echo "  leadwatch: open http://127.0.0.1:$(PORT)/  (data in $(LEADWATCH_DATA_DIR); Ctrl-C stops)"
	@echo
	$(BIN)/leadwatch serve --port $(PORT)

system-deps:
	@scripts/install-system-deps.sh

test: install system-deps
	$(BIN)/pytest

bench: install system-deps
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis bench/results
