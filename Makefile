# planfirst — the two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint unit editors bench clean venv

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

## make demo: plan and execute a real change on a copy of examples/workspace, offline
demo: $(STAMP)
	$(BIN)/python examples/demo.py

## make test: lint, type-check, unit + end-to-end tests, real-editor tests
test: $(STAMP)
	$(BIN)/ruff check server tests bench examples/demo.py
	$(BIN)/mypy
	$(BIN)/pytest -q
	bash tests/editors/run-all.sh

lint: $(STAMP)
	$(BIN)/ruff check server tests bench examples/demo.py
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -q

editors: $(STAMP)
	bash tests/editors/run-all.sh

## make bench: benchmarks; writes bench/RESULTS.md
bench: $(STAMP)
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) editor-client/node_modules editor-client/dist editor-client/*.vsix
