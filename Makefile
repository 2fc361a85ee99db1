# Headroom: `make demo` runs the demo, `make test` runs the whole test suite.
# Each target creates the virtualenv (.venv) and installs the project into it when needed.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.headroom-installed
# two xdist workers, each with its own servers; a hung test fails after 10 minutes
PYTEST_ARGS ?= -n 2 --timeout=600 -p no:cacheprovider
DEMO_ARGS ?= --history 21d

.PHONY: venv test demo lint clean-venv

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -e '.[test]'
	@touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest tests $(PYTEST_ARGS)

demo: $(STAMP)
	$(VENV)/bin/headroom demo $(DEMO_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

clean-venv:
	rm -rf $(VENV)
