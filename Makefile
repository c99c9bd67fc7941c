# The README's contract: `make demo` runs the main job on the sandbox, `make test` runs the tests.
# Both create the virtual environment on first use. `make test-ui` walks docs/ui-walkthrough.md in a
# real browser (not part of `make test`).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-ui lint venv clean bench

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m plmigrate.demo

lint: $(STAMP)
	$(BIN)/ruff check .

# Two worker processes (pytest-xdist), a test file at a time each: a file's module-scoped fixtures
# stay in one process, and each process starts its own Prefect test server (docs/performance.md,
# "The test suite"). A bare `pytest FILE` runs in one process, as before.
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -p no:cacheprovider -n 2 --dist loadfile

# Playwright drives Debian's Chromium: Playwright's own browser download is not used. The test
# starts its own Prefect server (own port, PREFECT_API_URL set, temporary PREFECT_HOME), sandbox
# and worker (tests/ui/stack.py); on failure it names the directory with its screenshots.
CHROMIUM := /usr/bin/chromium
ROOT_OR_SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

test-ui: $(STAMP)
	test -x $(CHROMIUM) || $(ROOT_OR_SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium || \
		{ $(ROOT_OR_SUDO) apt-get update && $(ROOT_OR_SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; }
	$(BIN)/python -c 'import playwright' 2>/dev/null || $(BIN)/python -m pip install --quiet -e '.[dev,ui]'
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/ui

clean:
	rm -rf $(VENV) .sandbox build *.egg-info
