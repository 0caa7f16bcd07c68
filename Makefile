# churnops: `make demo` runs the end-to-end job on embedded defaults, `make test` runs the suite.
# Both create .venv when missing and install what they need; run again, they skip what is done.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# One pinned torch, installed before anything else: on this machine the pin resolves to a local
# CPU wheel, on a GPU cluster to the CUDA build. An open range would pull an unplanned build.
TORCH_VERSION ?= 2.13.0
EXTRAS ?= all,dev
# The stamp names what was installed: a new pyproject.toml or torch pin reinstalls, nothing else.
STAMP := $(VENV)/.installed-torch$(TORCH_VERSION)-$(shell cksum < pyproject.toml | cut -d' ' -f1)

export SPARK_LOCAL_IP ?= 127.0.0.1
export RAY_AUTH_MODE ?= disabled
export MLFLOW_DISABLE_TELEMETRY ?= true
export PYSPARK_PYTHON := $(abspath $(PY))

.DEFAULT_GOAL := help
.PHONY: help prereqs install browser demo test test-petastorm test-databricks-fe lint format typecheck bench serve gpu-check diagrams clean

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

prereqs: ## check Python 3.11+ and Java 17+ (Java is needed by the spark engine)
	@bash scripts/check-prereqs $(PYTHON)

$(PY):
	@bash scripts/check-prereqs $(PYTHON)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -q "torch==$(TORCH_VERSION)"
	$(PY) -m pip install -q -e ".[$(EXTRAS)]"
	rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP) ## create .venv and install torch (pinned) and the project, editable

demo: $(STAMP) ## run the end-to-end demo on embedded defaults
	$(VENV)/bin/churnops demo

# Two pytest-xdist workers: many tests wait on a server, a JVM or pip, so two overlap well on
# 2 cores; the Ray tests share one worker (tests/conftest.py). PYTEST_WORKERS=0 runs serially.
PYTEST_WORKERS ?= 2

# The report's browser test drives headless Chromium (Debian's `chromium`) over the DevTools
# protocol: as root with apt-get it is installed here; otherwise that test skips and says why.
CHROMIUM ?= /usr/bin/chromium

browser: ## install headless Chromium for the report's browser test (as root with apt-get)
	@if [ -x "$(CHROMIUM)" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing chromium (the report's browser test)"; \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
	    || echo "apt-get could not install chromium: the report's browser test will skip"; \
	else echo "no $(CHROMIUM), and not root with apt-get: the report's browser test will skip"; fi

test: $(STAMP) lint browser ## lint, the suite (2 workers), then the Petastorm and Databricks client tests in their own envs
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadgroup
	$(MAKE) --no-print-directory test-petastorm
	$(MAKE) --no-print-directory test-databricks-fe

test-petastorm: ## Petastorm tests in .venv-petastorm (pyarrow 14, numpy 1; built when missing)
	PYTHON=$(PYTHON) bash scripts/petastorm-env

test-databricks-fe: ## the Databricks feature store adapter against the real client, in .venv-databricks-fe
	PYTHON=$(PYTHON) bash scripts/databricks-fe-env

lint: $(STAMP) ## ruff lint and format check, and the import floors (import-linter)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

format: $(STAMP) ## apply ruff fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

typecheck: $(STAMP) ## mypy on the packages
	$(VENV)/bin/mypy

BENCHMARKS ?= features feature_store baselines loaders tuning serving

bench: $(STAMP) ## run every benchmark (writes docs/results/; BENCHMARKS="..." picks some)
	@for name in $(BENCHMARKS); do echo "== $$name"; scripts/benchmark $$name || exit 1; done

serve: $(STAMP) ## serve configs/serving/churn.yaml over HTTP (Databricks invocation API)
	scripts/serve --config configs/serving/churn.yaml

gpu-check: $(STAMP) ## GPU checks and timings in one script (launchers, XGBoost, loaders in bf16, scale run)
	scripts/gpu-check

DIAGRAMS := $(wildcard docs/diagrams/*.dot)

diagrams: ## render docs/diagrams/*.dot to SVG and PNG (needs Graphviz `dot`)
	@command -v dot >/dev/null || { echo "Graphviz 'dot' not found: apt-get install graphviz (or brew install graphviz)"; exit 1; }
	@for src in $(DIAGRAMS); do dot -Tsvg "$$src" -o "$${src%.dot}.svg" && dot -Tpng -Gdpi=96 "$$src" -o "$${src%.dot}.png" && echo "rendered $${src%.dot}.svg .png"; done

clean: ## remove the demo's working folder (.churnops) and caches
	rm -rf .churnops .pytest_cache .ruff_cache
