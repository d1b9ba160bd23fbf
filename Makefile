# The README names these targets; each one sets up what it needs on a fresh machine.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test unit lint schemas bench stack-up stack-down clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --upgrade pip
	@$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check saga tests services benchmarks
	$(BIN)/ruff format --check saga tests services benchmarks
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest tests/unit -q

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
