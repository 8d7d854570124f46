"""Narrowed types: a migration made a column narrower than the schema file says.

`schema check` reports it (integer ranges, string lengths, numeric precision),
without calling excluded columns dropped; `plan` refuses a value the column
cannot hold with its file and line, before apply; and a failing apply prints
no psycopg internals.
"""
from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import psycopg
import pygit2
import pytest
from configsync import inference, limits
from configsync.backends.base import Column, TableInfo
from configsync.values import Value
from helpers import ROOT, commit_all, run

# ---- limits: does a value fit its column's type? ---------------------------------------


def col(kind: str, type_name: str, db_type: str = "", **extra: object) -> Column:
    return Column("c", kind, db_type or type_name, type_name=type_name, **extra)  # type: ignore[arg-type]


@pytest.mark.parametrize("column, value, problem", [
    (col("integer", "int4", "integer"), 2147483647, None),
    (col("integer", "int4", "integer"), 2147483648, "c: 2147483648 is out of range for the column's type integer "
                                                    "(-2147483648 to 2147483647)"),
    (col("integer", "int4", "integer"), -2147483649, "out of range"),
    (col("integer", "int2", "smallint"), 32768, "out of range for the column's type smallint"),
    (col("integer", "int8", "bigint"), 9223372036854775807, None),
    (col("integer", "int8", "bigint"), 9223372036854775808, "out of range"),
    (col("integer", "integer", "integer"), 2 ** 31, "out of range"),  # PostgREST's spelling
    (col("integer", "INTEGER", "INTEGER"), 2 ** 40, None),  # SQLite: 64 bits whatever the declaration
    (col("integer", "INTEGER", "INTEGER"), 2 ** 63, "out of range"),
    (col("text", "varchar", "character varying(5)", max_length=5), "abcde", None),
    (col("text", "varchar", "character varying(5)", max_length=5), "abcdef", "c: 6 characters, more than the 5 the "
                                                                           "column's type character varying(5) holds"),
    (col("text", "varchar", "character varying(5)", max_length=5), "abcde   ", None),  # only spaces beyond: cut off
    (col("text", "varchar", "character varying(5)", max_length=5), "ééééé", None),  # characters, not bytes
    (col("text", "text"), "x" * 100000, None),
    (col("numeric", "numeric", "numeric(6,2)", precision=6, scale=2), Decimal("9999.99"), None),
    (col("numeric", "numeric", "numeric(6,2)", precision=6, scale=2), Decimal("9999.994"), None),  # rounds to 9999.99
    (col("numeric", "numeric", "numeric(6,2)", precision=6, scale=2), Decimal("9999.995"),
     "c: 9999.995 does not fit the column's type numeric(6,2): at most 4 digits before the decimal point"),
    (col("numeric", "numeric", "numeric(6,2)", precision=6, scale=2), 10000, "does not fit"),
    (col("numeric", "numeric", "numeric(6,2)", precision=6, scale=2), Decimal("-1E+400"), "does not fit"),
    (col("numeric", "numeric", "numeric(6,2)", precision=6, scale=2), Decimal("1.23456789"), None),  # rounded
    (col("numeric", "numeric", "numeric(3,3)", precision=3, scale=3), Decimal("0.999"), None),
    (col("numeric", "numeric", "numeric(3,3)", precision=3, scale=3), 1, "at most 0 digits"),
    (col("numeric", "numeric", "numeric"), Decimal("1E+100"), None),
    (col("array", "int2", "smallint[]", element_kind="integer"), [1, [2, 40000]], "c.1.1: 40000 is out of range"),
    (col("array", "varchar", "character varying(2)[]", element_kind="text", max_length=2), ["ab", None, "abc"],
     "c.2: 3 characters"),
])
def test_values_are_checked_against_the_column_type(column: Column, value: Value, problem: str | None) -> None:
    found = limits.problem(column, value)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found, found


# ---- schema check: inference.differences ------------------------------------------------------


def schema_of(*columns: Column) -> dict[str, object]:
    return inference.table_schema("t", TableInfo("t", (Column("k", "text", "text", False), *columns), ("k",)), ["k"])


def test_narrowed_types_are_differences() -> None:
    before = schema_of(Column("n", "integer", "bigint", type_name="int8"),
                       Column("s", "text", "text", type_name="text"),
                       Column("v", "text", "character varying(50)", type_name="varchar", max_length=50),
                       Column("m", "numeric", "numeric", type_name="numeric"),
                       Column("p", "numeric", "numeric(10,2)", type_name="numeric", precision=10, scale=2),
                       Column("a", "array", "bigint[]", element_kind="integer", type_name="int8"))
    after = schema_of(Column("n", "integer", "integer", type_name="int4"),
                      Column("s", "text", "character varying(10)", type_name="varchar", max_length=10),
                      Column("v", "text", "character varying(20)", type_name="varchar", max_length=20),
                      Column("m", "numeric", "numeric(6,2)", type_name="numeric", precision=6, scale=2),
                      Column("p", "numeric", "numeric(8,2)", type_name="numeric", precision=8, scale=2),
                      Column("a", "array", "smallint[]", element_kind="integer", type_name="int2"))
    found = inference.differences("t", before, after)
    assert found == [
        "t.n: the schema allows up to 9223372036854775807, the database's column holds at most 2147483647 "
        "(narrowed by a migration?)",
        "t.n: the schema allows down to -9223372036854775808, the database's column holds at least -2147483648 "
        "(narrowed by a migration?)",
        "t.s: the schema allows strings of any length, the database's column holds at most 10 characters "
        "(narrowed by a migration?)",
        "t.v: the schema allows 50 characters, the database's column holds at most 20 (narrowed by a migration?)",
        "t.m: the schema allows any number, the database's column holds at most 10000 (exclusive) "
        "(narrowed by a migration?)",
        "t.m: the schema allows any number, the database's column holds at least -10000 (exclusive) "
        "(narrowed by a migration?)",
        "t.p: the schema allows up to 100000000 (exclusive), the database's column holds at most 1000000 (exclusive) "
        "(narrowed by a migration?)",
        "t.p: the schema allows down to -100000000 (exclusive), the database's column holds at least -1000000 "
        "(exclusive) (narrowed by a migration?)",
        "t.a[]: the schema allows up to 9223372036854775807, the database's column holds at most 32767 "
        "(narrowed by a migration?)",
        "t.a[]: the schema allows down to -9223372036854775808, the database's column holds at least -32768 "
        "(narrowed by a migration?)",
    ]
    # widened, or the same: nothing to say
    assert inference.differences("t", after, before) == []
    assert inference.differences("t", after, after) == []


def test_a_hand_written_schema_is_not_narrowed_by_stating_less() -> None:
    """Integer bounds a person left out are not drift; tighter bounds or an enum neither."""
    declared = {"type": "object", "properties": {
        "k": {"type": "string"}, "n": {"type": "integer", "minimum": 1},
        "v": {"type": "string", "maxLength": 5}, "e": {"enum": ["a", "b"]}}}
    inferred = schema_of(Column("n", "integer", "integer", False, type_name="int4"),
                         Column("v", "text", "character varying(20)", False, type_name="varchar", max_length=20),
                         Column("e", "text", "character varying(1)", False, type_name="varchar", max_length=1))
    assert inference.differences("t", declared, inferred) == []


def test_excluded_columns_are_not_reported_as_dropped() -> None:
    declared = schema_of(Column("updated_at", "timestamp", "timestamptz"), Column("token", "text", "text"))
    inferred = schema_of()
    assert inference.differences("t", declared, inferred, hidden={"updated_at", "token"}) == []
    assert inference.differences("t", declared, inferred, hidden={"updated_at"}) == [
        "t.token: in the schema but not in the database (dropped or renamed?)"]


# ---- the commands, on PostgreSQL ----------------------------------------------------------------


QUOTAS = """
    CREATE TABLE quotas (name text PRIMARY KEY, max_requests bigint NOT NULL, label text,
                         rate numeric, tags text[], updated_at timestamptz DEFAULT now());
    INSERT INTO quotas (name, max_requests, label, rate, tags) VALUES ('free', 1000, 'Free', 1.5, '{a}');
"""


def adopt_quotas(tmp_path: Path, url: str) -> Path:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(QUOTAS)  # type: ignore[arg-type]
    repo = tmp_path / "repo"
    new_repo(repo)
    result = run(repo, "init", "--database", url, "--tables", "quotas")
    assert result.code == 0, result.text
    return repo


def new_repo(path: Path) -> None:
    path.mkdir()
    repo = pygit2.init_repository(str(path), initial_head="main")
    repo.config["user.name"] = "Test Author"
    repo.config["user.email"] = "test@example.com"


def quotas(url: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT name, max_requests, label, rate FROM quotas ORDER BY name").fetchall()


def test_schema_check_and_plan_catch_narrowed_columns(tmp_path: Path, pg_url: str) -> None:
    repo = adopt_quotas(tmp_path, pg_url)
    assert "updated_at" in (repo / "configsync.yaml").read_text()  # excluded by init
    # the schema still lists the excluded column: it is no "dropped" column
    schema_file = repo / "schemas/quotas.schema.json"
    schema_file.write_text(schema_file.read_text().replace(
        '"properties": {', '"properties": {\n    "updated_at": {"type": ["string", "null"]},', 1))
    commit_all(repo, "adopt quotas")
    assert run(repo, "schema", "check", database=pg_url).code == 0
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("ALTER TABLE quotas ALTER COLUMN max_requests TYPE integer, "
                     "ALTER COLUMN label TYPE varchar(5), ALTER COLUMN rate TYPE numeric(4,2)")
    checked = run(repo, "schema", "check", database=pg_url)
    assert checked.code == 2, checked.text
    assert "quotas.max_requests: the schema allows up to 9223372036854775807, the database's column holds at most " \
           "2147483647" in checked.out
    assert "quotas.label: the schema allows strings of any length, the database's column holds at most 5 " \
           "characters" in checked.out
    assert "quotas.rate: the schema allows any number, the database's column holds at most 100 (exclusive)" \
        in checked.out
    assert "updated_at" not in checked.out

    record = repo / "config-snapshots/quotas/free.yaml"
    text = record.read_text()
    lines = text.splitlines()
    record.write_text(text.replace("max_requests: 1000", "max_requests: 9223372036854775807")
                      .replace("label: Free", "label: Free tier").replace("rate: 1.5", "rate: 100"))
    commit_all(repo, "unlimited")
    before = quotas(pg_url)
    for command in (["plan"], ["apply", "--yes"]):
        result = run(repo, *command, database=pg_url)
        assert result.code == 1, result.text
        where = "config-snapshots/quotas/free.yaml"
        assert f"{where}:{lines.index('max_requests: 1000') + 1}: max_requests: 9223372036854775807 is out of range " \
               "for the column's type integer (-2147483648 to 2147483647)" in result.err, result.text
        assert f"{where}:{lines.index('label: Free') + 1}: label: 9 characters, more than the 5 the column's type " \
               "character varying(5) holds" in result.err, result.text
        assert f"{where}:{lines.index('rate: 1.5') + 1}: rate: 100 does not fit the column's type numeric(4,2): " \
               "at most 2 digits before the decimal point" in result.err, result.text
        assert "Traceback" not in result.text
    assert quotas(pg_url) == before


def test_a_failing_apply_prints_no_psycopg_internals(tmp_path: Path, pg_url: str) -> None:
    """Several inserts go in one pipeline (executemany). When the database refuses
    one and a later one cannot even be sent (a NUL character), psycopg logs
    "error ignored terminating <psycopg.Pipeline ...>: <the database's message,
    with the failing row's values>" on its way out; only configsync's message
    may reach stderr."""
    repo = adopt_quotas(tmp_path, pg_url)
    commit_all(repo, "adopt quotas")
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("ALTER TABLE quotas ADD CONSTRAINT positive CHECK (max_requests > 0)")
    for name, count, label in (("a", -1, "secret-ish"), ("b", 6, "b"), ("c", 7, "x\\0y")):
        (repo / f"config-snapshots/quotas/{name}.yaml").write_text(
            f'name: {name}\nmax_requests: {count}\nlabel: "{label}"\n')
    commit_all(repo, "three quotas, two the database cannot take")
    before = quotas(pg_url)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "cli")}
    process = subprocess.run([sys.executable, "-m", "configsync", "--database", pg_url, "apply", "--yes"],
                             cwd=repo, capture_output=True, text=True, env=env, timeout=120)
    assert process.returncode == 1, process.stdout + process.stderr
    assert "apply failed at quotas config-snapshots/quotas/a.yaml" in process.stderr, process.stderr
    assert "error ignored" not in process.stderr and "Pipeline" not in process.stderr, process.stderr
    assert "secret-ish" not in process.stderr and "Traceback" not in process.stderr, process.stderr
    assert quotas(pg_url) == before
