# Quick start: `make run` (set-up + export of seeds/ to output/) and `make test` (set-up + every test).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The publish tests' FHIR server (Medplum, Node): reinstalled only when its lock file changes.
FHIR_SERVER := tests/fhir_server
NODE_STAMP  := $(FHIR_SERVER)/node_modules/.installed
# Debian's Chromium for the HTML report's browser test (a missing browser fails that test).
SUDO     := $(if $(filter 0,$(shell id -u)),,sudo)
CHROMIUM := /usr/bin/chromium

.PHONY: run test test-fast golden lint bench lock definitions clean

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

$(NODE_STAMP): $(FHIR_SERVER)/package-lock.json
	npm ci --prefix $(FHIR_SERVER) --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

run: $(STAMP)
	$(BIN)/trialexport run seeds/ --output output/

$(CHROMIUM):
	$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium

test: $(STAMP) $(NODE_STAMP) $(CHROMIUM)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

# The edit loop: everything but the tests that start Prefect, the FHIR server, a browser or kill
# runs (pytest markers, see pyproject.toml); well under 90 s.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not prefect and not server and not browser and not crash"

# Rewrite the golden files (the seeds' outputs, and the whole-tree runs per source format and
# FHIR release) after an intended change of outputs; read the diff before committing it.
golden: $(STAMP)
	UPDATE_GOLDEN=1 $(BIN)/python -m pytest -q tests/mappers/test_export.py tests/flows/test_golden.py -k "golden"

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

# Registry scale: bare mappers, the flow, an incremental rerun (`make bench STUDIES=2000` for a quick
# look). Per-stage and per-format breakdown: `$(BIN)/python -m benchmarks.bench`.
bench: $(STAMP)
	$(BIN)/python -m benchmarks.scale $(if $(STUDIES),--studies $(STUDIES))

# Re-resolve the pinned set from pyproject.toml's ranges (needs the registry).
lock:
	rm -rf .lockenv && $(PYTHON) -m venv .lockenv
	.lockenv/bin/python -m pip install --quiet -e '.[test]'
	{ head -2 requirements.lock; .lockenv/bin/python -m pip freeze --exclude-editable; echo setuptools==65.5.0; echo wheel==0.48.0; } > requirements.lock.new
	mv requirements.lock.new requirements.lock && rm -rf .lockenv

# Re-extract validation/definitions/r4.json and r5.json from the official FHIR packages (needs npm).
definitions: $(STAMP)
	$(BIN)/python -m validation.definitions.build R4
	$(BIN)/python -m validation.definitions.build R5

clean:
	rm -rf $(VENV) output/*/ output/*.json output/*.ndjson output/index.html
