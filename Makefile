# Quick start: `make run` (set-up + export of seeds/ to output/) and `make test` (set-up + every test).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --quiet --disable-pip-version-check
# requirements.lock: what the package needs to run; requirements-dev.lock: that plus the test,
# lint and type-checking tools. Both pinned with hashes (`make lock`).
STAMP     := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
# The publish tests' FHIR server (Medplum, Node): reinstalled only when its lock file changes.
FHIR_SERVER := tests/fhir_server
NODE_STAMP  := $(FHIR_SERVER)/node_modules/.installed
# Debian's Chromium for the HTML report's browser test (a missing browser fails that test).
SUDO     := $(if $(filter 0,$(shell id -u)),,sudo)
CHROMIUM := /usr/bin/chromium
LOCK     := .lockenv/bin/pip-compile --quiet --generate-hashes --no-strip-extras --no-emit-index-url --no-emit-find-links

.PHONY: run test test-fast golden lint bench lock definitions clean

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --require-hashes -r requirements.lock
	$(PIP) install --no-deps -e .
	rm -f $(DEV_STAMP)
	touch $(STAMP)

$(DEV_STAMP): $(STAMP) requirements-dev.lock
	$(PIP) install --require-hashes -r requirements-dev.lock
	touch $(DEV_STAMP)

$(NODE_STAMP): $(FHIR_SERVER)/package-lock.json
	npm ci --prefix $(FHIR_SERVER) --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

run: $(STAMP)
	$(BIN)/trialexport run seeds/ --output output/

$(CHROMIUM):
	$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium

test: $(DEV_STAMP) $(NODE_STAMP) $(CHROMIUM)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest

# The edit loop: everything but the tests that start Prefect, the FHIR server, a browser, kill
# runs or fuzz with thousands of generated inputs (pytest markers, see pyproject.toml), spread
# over one pytest-xdist process per CPU. Node's validator (Medplum) is used, not its server.
test-fast: $(DEV_STAMP) $(NODE_STAMP)
	$(BIN)/python -m pytest -q -n auto -m "not prefect and not server and not browser and not crash and not fuzz"

# Rewrite the golden files (the seeds' outputs, and the whole-tree runs per source format and
# FHIR release) after an intended change of outputs; read the diff before committing it.
golden: $(DEV_STAMP)
	UPDATE_GOLDEN=1 $(BIN)/python -m pytest -q tests/mappers/test_export.py tests/flows/test_golden.py -k "golden"

# Ruff (with a complexity limit), its formatter, and mypy over the whole tree (pyproject.toml).
lint: $(DEV_STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy

# First-sight ms per stage on distinct real records, then the flow end to end at 1,000 and 10,000
# distinct studies (`make bench SIZES=1000` for a quick look). Runners and reruns at registry scale:
# `$(BIN)/python -m benchmarks.scale`.
bench: $(DEV_STAMP)
	$(BIN)/python -m benchmarks.bench $(if $(SIZES),--sizes $(SIZES))

# Re-resolve both locks from pyproject.toml (needs the registry). Pins already in a lock are kept
# unless pyproject.toml's ranges exclude them; `make lock UPGRADE=1` moves everything to the
# newest versions the ranges allow. The development set is constrained to the runtime set.
lock:
	rm -rf .lockenv && $(PYTHON) -m venv .lockenv
	.lockenv/bin/python -m pip install --quiet --disable-pip-version-check pip-tools==7.6.2
	$(LOCK) $(if $(UPGRADE),--upgrade) --output-file requirements.lock pyproject.toml
	$(LOCK) $(if $(UPGRADE),--upgrade) --extra dev --constraint requirements.lock \
		--output-file requirements-dev.lock pyproject.toml
	rm -rf .lockenv

# Re-extract validation/definitions/r4.json, r5.json and their JSON Schemas (r4.schema.json, r5.schema.json)
# from the official FHIR packages (needs npm).
definitions: $(STAMP)
	$(BIN)/python -m validation.definitions.build R4
	$(BIN)/python -m validation.definitions.build R5

clean:
	rm -rf $(VENV) output/*/ output/*.json output/*.ndjson output/index.html
