# echosts: `make run` starts the service, `make test` runs the whole suite.
# Both create their own virtual environment in .venv on first use.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test lint format clean bench soak

$(BIN)/echosts: setup.cfg pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "echosts needs Python 3.11 or newer (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	@touch $@

run: $(BIN)/echosts
	$(BIN)/echosts $(ARGS)

lint: $(BIN)/echosts
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/python -m pytest --cov --cov-report=term-missing $(PYTEST_ARGS)

$(BIN)/py-spy: $(BIN)/echosts
	$(BIN)/python -m pip install --quiet -e ".[test,bench]"

# The floor against echosts in interleaved rounds; see bench/run.py for the options.
bench: $(BIN)/py-spy
	$(BIN)/python -m bench.run $(BENCH_ARGS)

# Thousands of short sessions with random endings, resources sampled; see bench/soak.py.
DURATION ?= 600
soak: $(BIN)/py-spy
	$(BIN)/python -m bench.soak --duration $(DURATION) $(SOAK_ARGS)

format: $(BIN)/echosts
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) .coverage .coverage.* htmlcov *.egg-info
