"""Any real schema: adopt a database configsync has never seen, round-trip it
exactly, and converge (see cycle.py for the schema files and the steps).

Each schema in tests/realworld/*.sql runs on PostgreSQL, through the CLI:

    init --all -> validate -> plan (empty) -> apply to an empty copy ->
    every managed column equal (numbers as numbers, JSON as jsonb compares) ->
    an edit, a create without database-assigned columns and a delete -> apply ->
    plan (empty) -> snapshot (exit 0) -> git status clean

A schema that does not get through today is marked xfail(strict=True) below with
the first step that fails, the command, its exit code and message: when configsync
is fixed the case passes, strict xfail turns that into a failure, and the mark is
removed. `python tests/realworld/report.py` runs every step of every schema (not
stopping at the first failure) and prints the whole table.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from cycle import SCHEMAS, Cycle, Schema, create_databases, new_repo, run_cycle

from support import postgres

# schema -> the first failing step as observed (command, exit code, message).
XFAIL: dict[str, str] = {}


def _param(name: str) -> object:
    if name in XFAIL:
        return pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=XFAIL[name]))
    return name


@pytest.fixture
def pg_copy_url(pg_server: str) -> Iterator[str]:
    """A second fresh, empty PostgreSQL database (the 'empty copy')."""
    name = f"cs_copy_{uuid.uuid4().hex[:12]}"
    url = postgres.create_database(pg_server, name)
    try:
        yield url
    finally:
        postgres.drop_database(pg_server, name)


def test_every_schema_names_the_project_it_follows() -> None:
    assert len(SCHEMAS) >= 6, SCHEMAS
    for name in SCHEMAS:
        schema = Schema.load(name)
        assert "follows" in schema.follows.lower(), f"{name}.sql: the leading comment must name the repository and file it follows"
        assert {"edit", "create", "delete"} <= set(schema.cycle), f"{name}.sql: the @cycle block needs edit, create and delete"


@pytest.mark.parametrize("name", [_param(n) for n in SCHEMAS])
def test_adopt_round_trip_and_converge(name: str, tmp_path: Path, pg_url: str, pg_copy_url: str) -> None:
    schema = Schema.load(name)
    create_databases(schema, pg_url, pg_copy_url)
    cycle = Cycle(schema, new_repo(tmp_path / "repo"), pg_url, pg_copy_url)
    run_cycle(cycle)  # raises StepFailed naming the step, the command, its exit code and output
