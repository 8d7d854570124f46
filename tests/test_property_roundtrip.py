"""Property: any rows of a table with a column per supported type go
database -> files -> an empty database exactly, and the plan after that is empty.

Hypothesis generates the rows (special values included: NaN, ±Infinity, ±infinity
timestamps, JSON null beside SQL NULL, arrays holding NULL, 2-D arrays, ...). Each
example: insert the rows -> `snapshot` into a fresh config repository -> `validate`
-> commit -> `apply` to an empty copy -> every column compared exactly -> `plan`
on the copy exits 0. On PostgreSQL and on SQLite.

30 examples per backend by default; CONFIGSYNC_HYPOTHESIS_EXAMPLES=500 runs more.
"""
from __future__ import annotations

import datetime as dt
import math
import os
import sqlite3
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from configsync import values
from helpers import Result, commit_all, new_repo, run
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from psycopg.types.json import Jsonb
from support import postgres

EXAMPLES = int(os.environ.get("CONFIGSYNC_HYPOTHESIS_EXAMPLES", "30"))
# No shrinking: an example costs a second of real database work, and shrinking one
# can take many minutes; the failing example is reported as generated.
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.data_too_large])


class SqlNull:
    """SQL NULL in a json column (None there is JSON null)."""

    def __repr__(self) -> str:
        return "SQL_NULL"


SQL_NULL = SqlNull()


def nullable(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


# ---- value strategies ------------------------------------------------------------------

TEXT = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=12)
SPECIAL_NUMBERS = st.sampled_from([Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity")])
DECIMALS = st.builds(lambda m, e: Decimal(m).scaleb(e), st.integers(-10**25, 10**25), st.integers(-30, 30))
DOUBLES = st.floats(allow_nan=True, allow_infinity=True)
INFINITIES = st.sampled_from(["infinity", "-infinity"])
TIMESTAMPS = st.datetimes(min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30))
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-10**20, 10**20) | DECIMALS | TEXT,
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from(["a", "$json", "b c", "", "null"]) | TEXT, inner, max_size=3),
    max_leaves=8,
)
JSON_CELL = st.one_of(st.just(SQL_NULL), JSON)  # JSON null (None) and SQL NULL, both


def int_matrix(elements: st.SearchStrategy[Any]) -> st.SearchStrategy[list[Any]]:
    """A rectangular 2-D array (PostgreSQL's arrays are rectangular)."""
    return st.integers(1, 3).flatmap(lambda width: st.lists(st.lists(elements, min_size=width, max_size=width),
                                                            min_size=1, max_size=3))


# ---- PostgreSQL ----------------------------------------------------------------------------

PG_DDL = """
CREATE TYPE tier AS ENUM ('free', 'pro', 'enterprise');
CREATE DOMAIN port AS integer CHECK (VALUE BETWEEN 1 AND 65535);
CREATE TABLE p (
    k integer PRIMARY KEY,
    b boolean, i2 smallint, i4 integer, i8 bigint, n numeric, f8 float8, f4 real,
    t text, vc varchar(12), ts timestamptz, tsn timestamp, d date, u uuid,
    jb jsonb, jbn jsonb NOT NULL DEFAULT '{}', j json,
    ia integer[], ia2 integer[][], ta text[], ea tier[], fa float8[],
    iv interval, ip inet, net cidr, bin bytea, cash money, tm time, ttz timetz, e tier, port port
);
"""

# column -> (strategy of a Python value for psycopg, SQL cast of the parameter)
PG_COLUMNS: dict[str, tuple[st.SearchStrategy[Any], str]] = {
    "b": (nullable(st.booleans()), "boolean"),
    "i2": (nullable(st.integers(-2**15, 2**15 - 1)), "smallint"),
    "i4": (nullable(st.integers(-2**31, 2**31 - 1)), "integer"),
    "i8": (nullable(st.integers(-2**63, 2**63 - 1)), "bigint"),
    "n": (nullable(DECIMALS | SPECIAL_NUMBERS), "numeric"),
    "f8": (nullable(DOUBLES), "float8"),
    "f4": (nullable(st.floats(width=32, allow_nan=True, allow_infinity=True)), "real"),
    "t": (nullable(TEXT), "text"),
    "vc": (nullable(TEXT), "varchar(12)"),
    "ts": (nullable(TIMESTAMPS.map(lambda v: v.replace(tzinfo=dt.UTC)) | INFINITIES), "timestamptz"),
    "tsn": (nullable(TIMESTAMPS | INFINITIES), "timestamp"),
    "d": (nullable(st.dates(min_value=dt.date(1, 1, 1)) | INFINITIES), "date"),
    "u": (nullable(st.uuids()), "uuid"),
    "jb": (JSON_CELL, "jsonb"),
    "jbn": (JSON, "jsonb"),
    "j": (JSON_CELL, "json"),
    "ia": (nullable(st.lists(nullable(st.integers(-2**31, 2**31 - 1)), max_size=4)), "integer[]"),
    "ia2": (nullable(int_matrix(nullable(st.integers(-100, 100)))), "integer[]"),
    "ta": (nullable(st.lists(nullable(TEXT), max_size=4)), "text[]"),
    "ea": (nullable(st.lists(nullable(st.sampled_from(["free", "pro", "enterprise"])), max_size=3)), "tier[]"),
    "fa": (nullable(st.lists(nullable(DOUBLES), max_size=3)), "float8[]"),
    "iv": (nullable(st.timedeltas(min_value=dt.timedelta(days=-9999), max_value=dt.timedelta(days=9999))), "interval"),
    "ip": (nullable(st.ip_addresses().map(str)), "inet"),
    "net": (nullable(st.ip_addresses(v=4).map(lambda a: f"{a}/32")), "cidr"),
    "bin": (nullable(st.binary(max_size=8)), "bytea"),
    "cash": (nullable(st.integers(-10**9, 10**9).map(lambda c: f"{c / 100:.2f}")), "money"),
    "tm": (nullable(st.times()), "time"),
    "ttz": (nullable(st.times().map(lambda t: t.isoformat() + "+05:30")), "timetz"),
    "e": (nullable(st.sampled_from(["free", "pro", "enterprise"])), "tier"),
    "port": (nullable(st.integers(1, 65535)), "port"),
}
PG_ROW = st.fixed_dictionaries({name: strategy for name, (strategy, _) in PG_COLUMNS.items()})
PG_ROWS = st.lists(PG_ROW, min_size=1, max_size=3)


def pg_param(name: str, value: Any) -> Any:
    if value is SQL_NULL:
        return None
    if name in ("jb", "jbn", "j"):
        return Jsonb(value, dumps=values.dumps)
    if isinstance(value, str) and value in ("infinity", "-infinity"):
        return value
    return value


def pg_read(url: str) -> list[tuple[Any, ...]]:
    """Every column as PostgreSQL prints it (UTC), numeric as a number, JSON by meaning."""
    exprs = []
    for name in PG_COLUMNS:
        if name in ("jb", "jbn", "j"):
            exprs.append(f"CASE WHEN {name} IS NULL THEN 'SQL NULL' ELSE {name}::text END")
        elif name == "n":
            exprs.append(name)
        else:
            exprs.append(f"{name}::text")
    with psycopg.connect(url) as conn:
        conn.execute("SET TimeZone = 'UTC'; SET DateStyle = 'ISO'; SET IntervalStyle = 'postgres'; "
                     "SET extra_float_digits = 1")
        rows = conn.execute(f"SELECT k, {', '.join(exprs)} FROM p ORDER BY k").fetchall()  # type: ignore[arg-type]
    return [tuple(_comparable(name, v) for name, v in zip(("k", *PG_COLUMNS), row, strict=True)) for row in rows]


def _comparable(name: str, value: Any) -> Any:
    if name in ("jb", "jbn", "j") and value != "SQL NULL" and value is not None:
        # JSON by meaning: numbers by value (1.0 = 1), key order and spacing aside
        return values.dumps(values.canonical(values.loads(value)), sort_keys=True)
    if isinstance(value, Decimal):
        return "NaN" if value.is_nan() else values.canonical(value)
    return value


@pytest.fixture
def pg_pair(pg_server: str) -> Iterator[tuple[str, str]]:
    names = [f"cs_prop_{uuid.uuid4().hex[:10]}" for _ in range(2)]
    urls = [postgres.create_database(pg_server, name) for name in names]
    for url in urls:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(PG_DDL)  # type: ignore[arg-type]
    try:
        yield urls[0], urls[1]
    finally:
        for name in names:
            postgres.drop_database(pg_server, name)


def said(result: Result) -> str:
    return f"exit {result.code}: {result.text}"


def adopted_config(tmp_path: Path, url: str, table: str) -> tuple[str, str]:
    """configsync.yaml and the schema `init` writes for the (empty) table."""
    repo = new_repo(tmp_path / "template")
    result = run(repo, "init", "--database", url, "--tables", table)
    assert result.code == 0, said(result)
    return (repo / "configsync.yaml").read_text(), (repo / f"schemas/{table}.schema.json").read_text()


def cycle(tmp_path: Path, table: str, source: str, copy: str, config: tuple[str, str]) -> None:
    """snapshot into a fresh repository -> validate -> commit -> apply to the copy -> plan there."""
    repo = new_repo(tmp_path / "repo")
    (repo / "configsync.yaml").write_text(config[0])
    (repo / "schemas").mkdir()
    (repo / f"schemas/{table}.schema.json").write_text(config[1])
    commit_all(repo, "config")
    result = run(repo, "snapshot", database=source)
    assert result.code == 2, f"snapshot: {said(result)}"
    result = run(repo, "validate")
    assert result.code == 0, f"validate of snapshot's files: {said(result)}"
    commit_all(repo, "snapshot")
    result = run(repo, "apply", "--yes", database=copy)
    assert result.code == 0, f"apply to the empty copy: {said(result)}"
    result = run(repo, "plan", database=copy)
    assert result.code == 0, f"plan after apply: {said(result)}"


def test_any_rows_round_trip_on_postgresql(tmp_path: Path, pg_pair: tuple[str, str]) -> None:
    source, copy = pg_pair
    config = adopted_config(tmp_path, source, "p")

    @SETTINGS
    @given(rows=PG_ROWS)
    def example(rows: list[dict[str, Any]]) -> None:
        for url in (source, copy):
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("TRUNCATE p; DROP TABLE IF EXISTS configsync_history")
        names = list(PG_COLUMNS)
        with psycopg.connect(source, autocommit=True) as conn:
            for k, row in enumerate(rows):
                casts = ", ".join(f"%s::{PG_COLUMNS[n][1]}" for n in names)
                conn.execute(f"INSERT INTO p (k, {', '.join(names)}) VALUES (%s, {casts})",  # type: ignore[arg-type]
                             [k, *(pg_param(n, row[n]) for n in names)])
        cycle(tmp_path, "p", source, copy, config)
        assert pg_read(copy) == pg_read(source)

    example()


# ---- SQLite ------------------------------------------------------------------------------

SQLITE_DDL = """
CREATE TABLE s (
    k INTEGER PRIMARY KEY, b BOOLEAN, i INTEGER, n NUMERIC, f REAL, t TEXT, ts TIMESTAMP, d DATE, u UUID,
    jb JSON, jbn JSON NOT NULL DEFAULT '{}', ia INTEGER[], ia2 INTEGER[][], ta TEXT[], fa REAL[]
);
"""
FINITE_OR_INF = st.floats(allow_nan=False, allow_infinity=True)
# SQLite keeps 64-bit integers and doubles (a JSON document's top-level number too).
SQLITE_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1) | st.floats(allow_nan=False, allow_infinity=False).map(
        values.from_db) | TEXT,
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from(["a", "$json", "b c", "", "null"]) | TEXT, inner, max_size=3),
    max_leaves=8,
)  # SQLite stores NULL for NaN: refused, not written
SQLITE_COLUMNS: dict[str, st.SearchStrategy[Any]] = {
    "b": nullable(st.booleans()),
    "i": nullable(st.integers(-2**63, 2**63 - 1)),
    "n": nullable(FINITE_OR_INF),
    "f": nullable(FINITE_OR_INF),
    "t": nullable(TEXT),
    "ts": nullable(TIMESTAMPS.map(lambda v: v.replace(tzinfo=dt.UTC).isoformat()) | INFINITIES),
    "d": nullable(st.dates(min_value=dt.date(1, 1, 1)).map(dt.date.isoformat) | INFINITIES),
    "u": nullable(st.uuids().map(str)),
    "jb": st.one_of(st.just(SQL_NULL), SQLITE_JSON),
    "jbn": SQLITE_JSON,
    "ia": nullable(st.lists(nullable(st.integers(-2**63, 2**63 - 1)), max_size=4)),
    "ia2": nullable(int_matrix(nullable(st.integers(-100, 100)))),
    "ta": nullable(st.lists(nullable(TEXT), max_size=4)),
    "fa": nullable(st.lists(nullable(DOUBLES), max_size=3)),  # JSON text: NaN kept
}
SQLITE_ROWS = st.lists(st.fixed_dictionaries(SQLITE_COLUMNS), min_size=1, max_size=3)
JSON_TEXT_COLUMNS = ("jb", "jbn", "ia", "ia2", "ta", "fa")


def sqlite_param(name: str, value: Any) -> Any:
    if value is SQL_NULL:
        return None
    if name in JSON_TEXT_COLUMNS:
        if value is None and name not in ("jb", "jbn"):
            return None  # an array column: SQL NULL
        return values.dumps(_to_value(value))
    return value


def _to_value(value: Any) -> Any:
    if isinstance(value, float):
        return values.from_db(value)
    if isinstance(value, list):
        return [_to_value(v) for v in value]
    return value


def sqlite_read(path: Path) -> list[tuple[Any, ...]]:
    """Every column as stored (its type and value); JSON text by meaning."""
    conn = sqlite3.connect(path)
    try:
        exprs = ", ".join(f"typeof({c}), {c}" for c in SQLITE_COLUMNS)
        rows = conn.execute(f"SELECT k, {exprs} FROM s ORDER BY k").fetchall()
    finally:
        conn.close()
    result = []
    for row in rows:
        items: list[Any] = [row[0]]
        for i, name in enumerate(SQLITE_COLUMNS):
            kind, value = row[1 + 2 * i], row[2 + 2 * i]
            if name in JSON_TEXT_COLUMNS and isinstance(value, str):
                value = values.dumps(values.canonical(values.loads(value)), sort_keys=True)
            elif isinstance(value, float) and value == 0:
                value = math.copysign(1, value)  # -0.0 and 0.0 apart
            items += [kind, value]
        result.append(tuple(items))
    return result


def test_any_rows_round_trip_on_sqlite(tmp_path: Path) -> None:
    source, copy = tmp_path / "source.db", tmp_path / "copy.db"
    for path in (source, copy):
        conn = sqlite3.connect(path)
        conn.executescript(SQLITE_DDL)
        conn.close()
    config = adopted_config(tmp_path, f"sqlite:///{source}", "s")

    @SETTINGS
    @given(rows=SQLITE_ROWS)
    def example(rows: list[dict[str, Any]]) -> None:
        for path in (source, copy):
            conn = sqlite3.connect(path)
            conn.executescript("DELETE FROM s; DROP TABLE IF EXISTS configsync_history;")
            conn.close()
        names = list(SQLITE_COLUMNS)
        conn = sqlite3.connect(source)
        with conn:
            for k, row in enumerate(rows):
                conn.execute(f"INSERT INTO s (k, {', '.join(names)}) VALUES (?, {', '.join('?' * len(names))})",
                             [k, *(sqlite_param(n, row[n]) for n in names)])
        conn.close()
        cycle(tmp_path, "s", f"sqlite:///{source}", f"sqlite:///{copy}", config)
        assert sqlite_read(copy) == sqlite_read(source)

    example()
