# Headroom: `make demo` runs the demo, `make test` runs the whole test suite.
# Each target first installs the Debian packages it needs when they are missing (the list is in
# scripts/install-debian-packages; sudo when not root), then creates the virtualenv (.venv) and
# installs the project into it when needed.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.headroom-installed
# two xdist workers, each with its own servers; a hung test fails after 10 minutes
PYTEST_ARGS ?= -n 2 --timeout=600 -p no:cacheprovider
DEMO_ARGS ?= --history 21d

.PHONY: venv test demo lint docs clean-venv debian-packages-demo debian-packages-test

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -e '.[test]'
	@touch $(STAMP)

debian-packages-demo:
	@scripts/install-debian-packages demo

debian-packages-test:
	@scripts/install-debian-packages test

# the packages first (python3-venv builds the virtualenv), then the virtualenv, then the command
test: debian-packages-test
	@$(MAKE) --no-print-directory $(STAMP)
	$(PY) -m pytest tests $(PYTEST_ARGS)

demo: debian-packages-demo
	@$(MAKE) --no-print-directory $(STAMP)
	$(VENV)/bin/headroom demo $(DEMO_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

# the generated documentation (tests check that each is fresh)
docs: $(STAMP)
	$(PY) -m collectors.docs
	$(PY) -m collectors.advisors.docs
	$(PY) -m headroom.init_template docs/configuration.md

clean-venv:
	rm -rf $(VENV)
