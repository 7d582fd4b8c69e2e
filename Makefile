# Quick start: `make run` (set-up + export of seeds/ to output/) and `make test` (set-up + every test).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint bench lock clean

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/trialexport run seeds/ --output output/

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

bench: $(STAMP)
	$(BIN)/python -m benchmarks.bench

# Re-resolve the pinned set from pyproject.toml's ranges (needs the registry).
lock:
	rm -rf .lockenv && $(PYTHON) -m venv .lockenv
	.lockenv/bin/python -m pip install --quiet -e '.[test]'
	{ head -2 requirements.lock; .lockenv/bin/python -m pip freeze --exclude-editable; echo setuptools==65.5.0; echo wheel==0.48.0; } > requirements.lock.new
	mv requirements.lock.new requirements.lock && rm -rf .lockenv

clean:
	rm -rf $(VENV) output/*/ output/*.json output/*.ndjson
