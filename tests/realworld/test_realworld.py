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
removed. Only a failure at the recorded step counts as the expected failure; one at
another step (a partial fix, a regression) fails the test, naming both.

Schemas with a <name>.sqlite.sql (the same tables in SQLite's types) also run the
cycle on the embedded SQLite backend. `python tests/realworld/report.py` runs every step of every schema (not
stopping at the first failure) and prints the whole table.
"""
from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import psycopg
import pytest
from cycle import SCHEMAS, SQLITE_SCHEMAS, Cycle, Schema, StepFailed, compare_table, create_databases, run_cycle
from helpers import new_repo

# schema -> the first failing step as observed (command, exit code, message).
# `python tests/realworld/report.py` shows every step of every schema.
XFAIL: dict[str, str] = {
}


class FirstFailure(StepFailed):
    """The step the XFAIL entry names failed first: the expected failure."""


def _param(name: str) -> object:
    if name in XFAIL:
        return pytest.param(name, marks=pytest.mark.xfail(strict=True, raises=FirstFailure, reason=XFAIL[name]))
    return name


def test_every_schema_names_the_project_it_follows() -> None:
    assert len(SCHEMAS) >= 6, SCHEMAS
    for name in SCHEMAS:
        schema = Schema.load(name)
        assert re.search(r"(follows|shape\s+of)", schema.follows, re.I) and re.search(
            r"\b[\w-]+/[\w.-]+\b.*\.(js|py|sql)\b", schema.follows, re.S
        ), f"{name}.sql: the leading comment must name the repository (owner/name) and the file it follows"
        assert {"edit", "create", "delete"} <= set(schema.cycle), f"{name}.sql: the @cycle block needs edit, create and delete"


@pytest.mark.parametrize("name", [_param(n) for n in SCHEMAS])
def test_adopt_round_trip_and_converge(name: str, tmp_path: Path, pg_url: str, pg_copy_url: str) -> None:
    schema = Schema.load(name)
    create_databases(schema, pg_url, pg_copy_url)
    run_expecting(Cycle(schema, new_repo(tmp_path / "repo"), pg_url, pg_copy_url), XFAIL.get(name))


def run_expecting(cycle: Cycle, recorded: str | None) -> None:
    """Run the cycle; a failure at the step ``recorded`` names is the expected
    one (FirstFailure), a failure at any other step fails loudly, naming both."""
    try:
        run_cycle(cycle)  # raises StepFailed naming the step, the command, its exit code and output
    except StepFailed as failure:
        if recorded and failure.step == recorded.partition(":")[0].removeprefix("step "):
            raise FirstFailure(str(failure)) from None
        raise AssertionError(f"{failure} (recorded: {recorded or 'no failure'})") from None


# schema -> the first failing step on SQLite, as for XFAIL.
XFAIL_SQLITE: dict[str, str] = {}


@pytest.mark.parametrize("name", [
    pytest.param(n, marks=pytest.mark.xfail(strict=True, raises=FirstFailure, reason=XFAIL_SQLITE[n])) if n in XFAIL_SQLITE else n
    for n in SQLITE_SCHEMAS])
def test_adopt_round_trip_and_converge_on_sqlite(name: str, tmp_path: Path) -> None:
    """The same cycle on the embedded SQLite backend, for the schemas that have a
    <name>.sqlite.sql (the same tables in the types SQLite has)."""
    schema = Schema.load(name, backend="sqlite")
    source, copy = f"sqlite:///{tmp_path / 'source.db'}", f"sqlite:///{tmp_path / 'copy.db'}"
    create_databases(schema, source, copy)
    run_expecting(Cycle(schema, new_repo(tmp_path / "repo"), source, copy), XFAIL_SQLITE.get(name))


def test_the_column_comparison_is_meaningful(tmp_path: Path, pg_url: str, pg_copy_url: str) -> None:
    """The harness's own check: equal numbers (1.50 and 1.5, NaN and NaN), JSON that
    jsonb calls equal (key order, spacing) and ±Infinity compare equal; any other
    difference, a missing row and an extra row are each reported."""
    ddl = "CREATE TABLE t (k text PRIMARY KEY, n numeric, f float8, j json, b jsonb, ts timestamptz, a int[])"
    same = ("('x', 1.50, 'NaN', '{\"b\": 1,  \"a\": [1, 2]}', '{\"a\": 1.0}', 'infinity', '{1,NULL}'), "
            "('y', 'NaN', '-Infinity', 'null', 'null', '2024-01-01 00:00:00+00', NULL)")
    copy = ("('x', 1.5, 'NaN', '{\"a\": [1, 2], \"b\": 1}', '{\"a\": 1}', 'infinity', '{1,NULL}'), "
            "('y', 'NaN', '-Infinity', 'null', 'null', '2024-01-01 01:00:00+01', NULL)")
    for url, rows in ((pg_url, same), (pg_copy_url, copy)):
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"{ddl}; INSERT INTO t VALUES {rows}")  # type: ignore[arg-type]
    repo = new_repo(tmp_path / "repo")
    (repo / "configsync.yaml").write_text("tables:\n  t:\n    key: k\n")
    assert list(compare_table(repo, "t", pg_url, pg_copy_url)) == []
    with psycopg.connect(pg_copy_url, autocommit=True) as conn:
        conn.execute("UPDATE t SET j = '{\"a\": [2, 1], \"b\": 1}', a = '{1,0}' WHERE k = 'x'")
        conn.execute("UPDATE t SET b = NULL WHERE k = 'y'")  # SQL NULL is not JSON null
        conn.execute("INSERT INTO t (k) VALUES ('z')")
    problems = list(compare_table(repo, "t", pg_url, pg_copy_url))
    assert [p.split(" column ")[-1].split(" ")[0] for p in problems if " column " in p] == ["j", "a", "b"], problems
    assert any("in the copy only" in p and "'z'" in p for p in problems), problems


def test_the_sqlite_column_comparison_is_meaningful(tmp_path: Path) -> None:
    """On SQLite: JSON text compares as JSON (spacing, key order), JSON null is not
    SQL NULL, 1.5 equals 1.50; a changed value and a missing row are reported."""
    ddl = "CREATE TABLE t (k TEXT PRIMARY KEY, n NUMERIC, j JSON, m JSON);"
    urls = {}
    for side, rows in (("a", "('x', 1.50, '{\"b\": 1, \"a\": 2}', 'null'), ('y', 2, '[]', NULL)"),
                       ("b", "('x', 1.5, '{\"a\":2,\"b\":1}', 'null'), ('y', 2, '[]', NULL)")):
        urls[side] = f"sqlite:///{tmp_path / (side + '.db')}"
        conn = sqlite3.connect(tmp_path / f"{side}.db")
        conn.executescript(f"{ddl} INSERT INTO t VALUES {rows};")
        conn.close()
    repo = new_repo(tmp_path / "repo")
    (repo / "configsync.yaml").write_text("tables:\n  t:\n    key: k\n")
    assert list(compare_table(repo, "t", urls["a"], urls["b"])) == []
    conn = sqlite3.connect(tmp_path / "b.db")
    conn.executescript("UPDATE t SET m = NULL WHERE k = 'x'; UPDATE t SET n = 3 WHERE k = 'y'; INSERT INTO t (k) VALUES ('z');")
    conn.close()
    problems = list(compare_table(repo, "t", urls["a"], urls["b"]))
    assert [p.split(" column ")[-1].split(" ")[0] for p in problems if " column " in p] == ["m", "n"], problems
    assert any("in the copy only" in p and "'z'" in p for p in problems), problems
