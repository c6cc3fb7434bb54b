# planfirst — the two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test check lint unit editors extension bench stress clean venv

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

## make demo: plan and execute a real change on a copy of examples/workspace, offline
demo: $(STAMP)
	$(BIN)/python examples/demo.py

## make test: lint, type-check, unit + end-to-end tests, the extension's checks, real-editor tests
test: $(STAMP)
	$(BIN)/ruff check server tests bench examples/demo.py
	$(BIN)/ruff format --check server tests bench examples/demo.py
	$(BIN)/mypy
	$(BIN)/pytest -q -n 2
	$(MAKE) extension
	bash tests/editors/run-all.sh

## the VS Code extension: type-check, lint, unit tests, bundle, package the .vsix
extension:
	cd editor-client && (test -d node_modules || npm ci --no-audit --no-fund) && npm run -s check && npm run -s package

## make check: the fast lane before a commit: lint, format, types and the unit tests (no e2e,
## editors or slow marker; docs/development.md says how long it takes). `make test` runs everything.
FAST := -m "not e2e and not editors and not slow"

check: lint
	$(BIN)/pytest -q -n 2 $(FAST)

lint: $(STAMP)
	$(BIN)/ruff check server tests bench examples/demo.py
	$(BIN)/ruff format --check server tests bench examples/demo.py
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -q -n 2 $(FAST)

editors: $(STAMP) extension
	bash tests/editors/run-all.sh

## make bench: benchmarks; writes bench/RESULTS.md
bench: $(STAMP)
	$(BIN)/python bench/run_all.py

## make stress: the whole suite 20 times in a row on both cores while `stress --cpu 2` runs
stress: $(STAMP)
	$(BIN)/python tests/stress.py --rounds 20 --cpu 2 --report tests/STRESS.md -- -n 2

clean:
	rm -rf $(VENV) editor-client/node_modules editor-client/dist editor-client/*.vsix
