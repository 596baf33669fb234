# `make demo` and `make test` work on a fresh machine: each creates .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench bench-quick bench-detect reliability openapi screenshots clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml web/package-lock.json | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[test]"
	npm ci --prefix web --no-audit --no-fund --loglevel=error
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/hazwatch demo

# In parallel: modules on the shared broker run one after another on one worker (tests/conftest.py).
TEST_WORKERS ?= 3
test: $(STAMP)
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadgroup

lint: $(STAMP)
	$(BIN)/ruff check src tests bench scripts

# Every benchmark, under 30 minutes on 2 cores; each rewrites its own section of docs/benchmarks.md.
# Node-RED is installed from npm into .hazwatch/bench/node-red on first use. The 30-minute soak is
# `$(BIN)/python bench/soak.py --minutes 120 --window 60 --write-docs`; here it runs for 3.
bench: $(STAMP)
	bash scripts/services.sh
	$(BIN)/python bench/limits.py --write-docs
	$(BIN)/python bench/ingest.py --write-docs
	$(BIN)/python bench/ingest_demo.py --seconds 30 --write-docs
	$(BIN)/python bench/mqtt_ingest.py --rounds 3 --write-docs
	$(BIN)/python bench/nodered.py --write-docs
	$(BIN)/python bench/ledger.py --write-docs
	$(BIN)/python bench/console.py --write-docs
	$(BIN)/python bench/scale.py --write-docs
	$(BIN)/python bench/soak.py --minutes 3 --write-docs

# Under a minute, after a change to the hot path: columnar batches into the running `hazwatch demo`
# (its park, ledger, incidents and reports on), beside the raw append of the same run.
bench-quick: $(STAMP)
	$(BIN)/python bench/ingest_demo.py --seconds 20

# Detection on TEP (simulated with tep-studio, the bench extra) and SKAB (../shared/data/skab).
bench-detect: $(STAMP)
	$(BIN)/pip install --quiet -e ".[test,bench]"
	$(BIN)/python bench/detect_tep.py --write-docs
	$(BIN)/python bench/detect_skab.py --write-docs

# The fault, hostile-input and credential tests alone, the property tests and the API fuzz drawing new
# cases, their last result written into docs/reliability.md. CI runs it after `make test`.
reliability: $(STAMP)
	$(BIN)/python scripts/reliability.py

openapi: $(STAMP)
	$(BIN)/hazwatch openapi --output docs/openapi.json

screenshots: $(STAMP)
	$(BIN)/python scripts/screenshots.py

clean:
	rm -rf $(VENV) .hazwatch build *.egg-info src/*.egg-info web/node_modules
