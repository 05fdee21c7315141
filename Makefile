# The README's commands. Each creates .venv from requirements.txt when missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STACK ?= dev
# Kubernetes version the core objects are validated against (kubernetes-validate schemas); empty: the plan's
# default (offline/validate.py). Which versions can be given: docs/operations.md#prerequisites.
KUBERNETES_VERSION ?=
BASE ?=
# Schema checks (docs/schemas.md): SCHEMAS=cluster checks custom resources against the CRDs of the stack's
# cluster; ALLOW_UNCHECKED=1 lets a plan or the tests pass with a warning when a schema check could not run.
SCHEMAS ?= pinned
ALLOW_UNCHECKED ?=
export DOSSIER_ALLOW_UNCHECKED := $(ALLOW_UNCHECKED)
# The pinned upstream files beside the checkout, when they are there (this repository's CI).
export DOSSIER_UPSTREAM ?= $(abspath $(wildcard ../shared/upstream))

.PHONY: test plan plan-diff base-given bench bench-real preview lint help e2e-tools e2e e2e-faults e2e-shared

help:
	@echo "make plan [STACK=dev]             offline plan of a stack (no cluster, no Pulumi CLI): tree, checks, build/<stack>/"
	@echo "    [SCHEMAS=cluster] [ALLOW_UNCHECKED=1]  CRD schemas from the stack's cluster; warn when a check cannot run"
	@echo "make plan-diff BASE=<git ref>     the plan of BASE next to this tree's, as a unified diff of build/"
	@echo "make bench                        plan time against the Pulumi SDK floor (dev stack, 1/100/1000 groups)"
	@echo "make bench-real [BENCH_ARGS=...]   preview/up/destroy under the real CLI against its floor (docs/benchmarks.md)"
	@echo "make preview [STACK=dev]          pulumi preview of a stack, checkpoints skipped (a preview persists nothing)"
	@echo "make test                         linters and the test suite"
	@echo "make e2e-tools                    build the real toolchain into ~/.cache/dossier-e2e (docs/e2e.md)"
	@echo "make e2e                          pulumi up with the real CLI into local servers, a real login (docs/e2e.md)"
	@echo "make e2e-faults                   faults under the real CLI: servers down, a killed CLI, drift, ... (docs/e2e.md)"
	@echo "make e2e-shared                   an S3 backend shared by two environments, their readers, CI (docs/e2e.md)"

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
	$(PY) -m offline.plan --stack $(STACK) $(if $(KUBERNETES_VERSION),--kubernetes-version $(KUBERNETES_VERSION)) \
		--schemas $(SCHEMAS)

base-given:
	@test -n "$(BASE)" || { echo "usage: make plan-diff BASE=<git ref> [STACK=dev]" >&2; exit 2; }

# Exit 0 whether or not the plans differ; non-zero if either plan fails.
plan-diff: base-given $(VENV)/.installed
	$(PY) -m offline.plandiff --base $(BASE) --stack $(STACK) \
		$(if $(KUBERNETES_VERSION),--kubernetes-version $(KUBERNETES_VERSION))

bench: $(VENV)/.installed
	$(PY) -m bench.offline --stack $(STACK)

# The real CLI, providers and servers (docs/benchmarks.md); e.g. BENCH_ARGS="--sizes 1,100 --up-sizes 100".
BENCH_ARGS ?=
bench-real: e2e-tools
	$(PY) -m bench.real $(BENCH_ARGS)

# A preview persists nothing: its per-step checkpoints are skipped (docs/operations.md). Never for up.
PULUMI ?= pulumi
PREVIEW_ARGS ?=
preview: $(VENV)/.installed
	PULUMI_SKIP_CHECKPOINTS=true $(PULUMI) preview --stack $(STACK) $(PREVIEW_ARGS)

# End to end (docs/e2e.md): the real CLI, providers and servers, built once into a per-user cache.
e2e-tools: $(VENV)/.installed
	$(PY) -m e2e.tools

e2e: e2e-tools
	$(PY) -m pytest -m e2e e2e/tests -p no:cacheprovider

# Faults under the real CLI and servers, each case recovered as docs/operations.md#faults says.
e2e-faults: e2e-tools
	$(PY) -m e2e.faults

# A team's backend (docs/e2e.md): an S3 store, two environments in one cluster, the outputs' readers, CI's preview.
e2e-shared: e2e-tools
	$(PY) -m pytest -m e2e e2e/tests_shared -p no:cacheprovider
