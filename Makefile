# The README names these targets; each one sets up what it needs on a fresh machine.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
DEMO_ARGS ?=

.PHONY: demo soak test unit lint schemas bench stack-up stack-down clean

$(STAMP): pyproject.toml
	@scripts/ensure-tools.sh
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --upgrade pip
	@$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

## demo: the example shop on a real Kafka + PostgreSQL (services.demo brings the stack up)
demo: $(STAMP)
	$(BIN)/python -m services.demo $(DEMO_ARGS)

## soak: the chaos soak (10,000 orders, 100+ kills, broker and database restarts on a
## private stack of its own); SOAK_ARGS="--orders 300 --kills 20" for a short one
soak: $(STAMP)
	$(BIN)/python -m services.soak $(SOAK_ARGS)

## test: lint, contract checks, then unit + integration tests on a real Kafka and PostgreSQL
test: lint schemas
	$(BIN)/saga stack up
	$(BIN)/pytest tests -n 2 --dist loadgroup $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check saga tests services benchmarks
	$(BIN)/ruff format --check saga tests services benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

# The shop's choreography: OrderPlaced comes from the orders HTTP API, outside the workers.
SHOP := services.orders services.inventory services.payments services.shipping

schemas: $(STAMP)
	$(BIN)/saga schemas check
	$(BIN)/saga schemas generate --check --out services/contracts/_generated.py
	$(BIN)/saga choreography $(SHOP) --external shop.orders.OrderPlaced
	$(BIN)/saga topics list $(SHOP) --workers --check > /dev/null

unit: $(STAMP)
	$(BIN)/pytest tests/unit

bench: $(STAMP)
	$(BIN)/saga stack up
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

stack-up: $(STAMP)
	$(BIN)/saga stack up

stack-down: $(STAMP)
	$(BIN)/saga stack down

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
