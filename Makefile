# The quick start: `make run` plays `poolscope run pool-saturation` on the embedded PostgreSQL,
# `make test` runs the whole test suite on the newest SQLAlchemy and drivers, then the
# version matrix (noxfile.py) on the oldest ones pyproject.toml claims. Both create .venv
# and install into it. `make test-fast` is the inner loop: the in-process tests only (no
# load, no server process, no browser, no system tool); CI runs everything.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# pytest-xdist workers: most tests wait (on a pool timeout, a played run, a server), so
# more workers than the 2 cores CI has.
WORKERS ?= 3

.PHONY: run test test-fast test-newest matrix lint docs format clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[tool,dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/poolscope run pool-saturation

test: test-newest matrix

test-newest: $(STAMP)
	$(BIN)/pytest -n $(WORKERS)

test-fast: $(STAMP)
	$(BIN)/pytest -n $(WORKERS) -m "not (slow or e2e or process or browser or external)"

matrix: $(STAMP)
	PYTEST_XDIST_AUTO_NUM_WORKERS=$(WORKERS) $(BIN)/nox

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@# The formatter's layout holds everywhere: no code opts out of it.
	@! git grep -nE '# fmt: (skip|off)' -- '*.py'
	$(BIN)/mypy
	$(MAKE) docs

# The documentation site (mkdocs.yml, docs/): --strict fails on a broken link or anchor.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) site .nox .pytest_cache .mypy_cache .ruff_cache
