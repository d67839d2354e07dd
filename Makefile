# exprscope developer entry points. The two that matter:
#   make demo   install everything and open JupyterLab on examples/demo.ipynb
#   make test   install everything and run every suite (lint, pytest, jest, Galata UI tests)
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
JLPM := $(VENV)/bin/jlpm
JUPYTER := $(VENV)/bin/jupyter
# The build hooks (hatch-jupyter-builder) and the UI tests call jlpm/jupyter by name.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
# Extra arguments for `make demo`, e.g. DEMO_ARGS="--no-browser --port 8899".
DEMO_ARGS ?=

# Build requirements installed into the venv so the editable install needs no build isolation.
BUILD_REQS := "hatchling>=1.5" "editables>=0.5" "hatch-nodejs-version>=0.3.2" "hatch-jupyter-builder>=0.5" "jupyterlab>=4.6,<4.7"

.PHONY: help
help:
	@echo "make demo    install everything, open JupyterLab on examples/demo.ipynb"
	@echo "make test    install everything, run lint + pytest + jest + UI tests"
	@echo "make bench   benchmark suite (JSON figures; EXPRSCOPE_BENCH_SIZE=smoke for a quick run)"
	@echo "make lint    format/lint checks (ruff, prettier, eslint, stylelint)"
	@echo "make format  apply the formatters"

.PHONY: sysdeps sysdeps-ui
sysdeps:
	@bash scripts/install-system-deps.sh
sysdeps-ui:
	@bash scripts/install-system-deps.sh --ui

# The virtual environment with JupyterLab, the kernel and exprscope installed in editable mode.
$(VENV)/.installed: pyproject.toml package.json yarn.lock | sysdeps
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(BUILD_REQS)
	# The npm registry occasionally drops a connection: retry the JS install before building.
	for i in 1 2 3; do $(JLPM) install && break || sleep 5; done
	$(PY) -m pip install -q --no-build-isolation -e ".[test]"
	$(JUPYTER) labextension develop . --overwrite
	touch $@

.PHONY: env
env: $(VENV)/.installed $(VENV)/share/jupyter/kernels/ir/kernel.json

# IRkernel's kernelspec ("ir") in the venv, for the R kernel tests and demo (R from sysdeps).
$(VENV)/share/jupyter/kernels/ir/kernel.json: | $(VENV)/.installed
	Rscript -e 'quit(status = IRkernel::installspec(name = "ir", displayname = "R", prefix = "$(CURDIR)/$(VENV)"))'

.PHONY: build
build: env
	$(JLPM) build

.PHONY: demo
demo: build
	$(JUPYTER) lab examples/demo.ipynb --ExprscopeServer.cross_origin_isolation=True $(DEMO_ARGS)

.PHONY: lint
lint: env
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(JLPM) lint:check

.PHONY: format
format: env
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .
	$(JLPM) lint

.PHONY: test-py
test-py: env
	# Not `python -m pytest`: that puts the repo root on sys.path, where jest's coverage/ folder
	# would shadow the `coverage` package numba imports.
	$(VENV)/bin/pytest -q

.PHONY: test-js
test-js: env
	$(JLPM) test

ui-tests/node_modules/.installed: ui-tests/package.json ui-tests/yarn.lock | env
	cd ui-tests && for i in 1 2 3; do PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 ../$(JLPM) install && break || sleep 5; done
	touch $@

.PHONY: test-ui
test-ui: build sysdeps-ui ui-tests/node_modules/.installed
	cd ui-tests && PATH="$(CURDIR)/$(VENV)/bin:$$PATH" ../$(JLPM) playwright test

# Benchmarks (docs/performance.md): figures as JSON, not pass/fail; ~20 min at full size.
# Own JupyterLab server on EXPRSCOPE_BENCH_PORT (8899); EXPRSCOPE_BENCH_SIZE=smoke for a quick run.
.PHONY: bench
bench: build sysdeps-ui ui-tests/node_modules/.installed
	$(PY) bench/run.py

# The benchmark at smoke size, so that it cannot rot: every figure present and finite, no timing asserted.
.PHONY: test-bench-smoke
test-bench-smoke: build sysdeps-ui ui-tests/node_modules/.installed
	EXPRSCOPE_BENCH_SIZE=smoke $(PY) bench/run.py --check

.PHONY: test
test: lint test-py test-js test-ui test-bench-smoke

.PHONY: clean
clean:
	rm -rf lib exprscope/labextension tsconfig.tsbuildinfo coverage ui-tests/test-results ui-tests/playwright-report
