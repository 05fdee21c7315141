# The README's commands. Each creates .venv from requirements.txt when missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STACK ?= dev

.PHONY: test plan lint help

help:
	@echo "make plan [STACK=dev]   offline plan of a stack (no cluster, no Pulumi CLI)"
	@echo "make test               linters and the test suite"

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

lint: $(VENV)/.installed
	$(PY) -m ruff check .
	$(PY) -m mypy

test: lint
	$(PY) -m pytest

plan: $(VENV)/.installed
	$(PY) -m offline.plan --stack $(STACK)
