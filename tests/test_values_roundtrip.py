"""Every value round-trips (docs/configuration.md, "Record files"): the special values, one case
each, on PostgreSQL, SQLite and (read side) the Supabase REST API.

A database holding them is adopted with `init --all`; `validate` accepts init's
own files; the files spell each special value as the value table of docs/configuration.md says;
`apply` to an empty copy writes exactly the same values (compared in SQL, as the
database prints them); `plan` on the copy is empty and a snapshot of the copy
gives the same bytes. Values that cannot be stored are refused, naming file:line.
"""
from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from configsync import values, yamlio
from helpers import Result, commit_all, is_clean, new_repo, record_files, run
from test_rest import start_project, supabase_cluster  # noqa: F401 - fixtures

PG_DDL = """
CREATE TYPE tier AS ENUM ('free', 'pro');
CREATE DOMAIN port AS integer CHECK (VALUE BETWEEN 1 AND 65535);
CREATE DOMAIN span AS interval;
CREATE DOMAIN addr AS inet;
CREATE DOMAIN short_name AS varchar(8);
CREATE TABLE vals (
    name text PRIMARY KEY,
    n numeric, np numeric(6,2), f float8, r real,
    ts timestamptz, tsn timestamp, d date,
    jb jsonb, jbn jsonb NOT NULL DEFAULT '{}', j json,
    ia integer[], ia2 integer[][], ta text[], ea tier[], fa float8[],
    iv interval, ip inet, net cidr, bin bytea, cash money, t time, ttz timetz,
    port port, span span, addr addr, short short_name
);
"""

PG_ROWS = """
INSERT INTO vals (name, n, np, f, r) VALUES ('nan', 'NaN', 'NaN', 'NaN', 'NaN');
INSERT INTO vals (name, n, f, r) VALUES ('inf', 'Infinity', 'Infinity', '-Infinity'),
                                        ('ninf', '-Infinity', '-Infinity', 'Infinity');
INSERT INTO vals (name, ts, tsn, d) VALUES ('forever', 'infinity', '-infinity', 'infinity'),
                                           ('never', '-infinity', 'infinity', '-infinity');
INSERT INTO vals (name, jb, jbn, j) VALUES ('json_null', 'null', 'null', 'null'),
                                           ('sql_null', NULL, '{"$json": null}', '[null, {"a": null}]');
INSERT INTO vals (name, ia, ia2, ta, ea, fa) VALUES
    ('arrays', '{1,NULL,3}', '{{1,NULL},{NULL,4}}', '{NULL,"",x,"NULL"}', '{free,NULL,pro}', '{NaN,Infinity,1.5}'),
    ('cube', '{}', '{{{1,2},{3,4}},{{5,6},{7,8}}}', '{}', '{}', NULL);
INSERT INTO vals (name, iv, ip, net, bin, cash, t, ttz, port, span, addr, short) VALUES
    ('others', '1 year 2 mons -3 days 04:05:06.789', '10.0.0.1', '10.0.0.0/8', '\\xdeadbeef', '$1,234.56',
     '23:59:59.999999', '12:00:00-03', 443, '-1 day +02:00:00', '192.168.0.1/24', 'eight ch');
"""

# Every column as PostgreSQL prints it (JSON as jsonb, so json compares by meaning;
# SQL NULL apart from JSON null).
PG_COLUMNS = ("n", "np", "f", "r", "ts", "tsn", "d", "jb", "jbn", "j", "ia", "ia2", "ta", "ea", "fa", "iv", "ip",
              "net", "bin", "cash", "t", "ttz", "port", "span", "addr", "short")


def pg_values(url: str) -> dict[str, tuple[object, ...]]:
    select = ", ".join(
        f"CASE WHEN {c} IS NULL THEN 'SQL NULL' ELSE {c}::jsonb::text END" if c in ("jb", "jbn", "j")
        else f"coalesce({c}::text, 'SQL NULL')" for c in PG_COLUMNS)
    with psycopg.connect(url) as conn:
        conn.execute("SET TimeZone = 'UTC'; SET DateStyle = 'ISO'; SET IntervalStyle = 'postgres'; "
                     "SET extra_float_digits = 3")
        rows = conn.execute(f"SELECT name, {select} FROM vals ORDER BY name").fetchall()  # type: ignore[arg-type]
    return {row[0]: tuple(row[1:]) for row in rows}


def said(result: Result) -> str:
    return f"exit {result.code}: {result.text}"


def adopt(repo: Path, url: str) -> None:
    result = run(repo, "init", "--database", url, "--all")
    assert result.code == 0, f"init: {said(result)}"
    commit_all(repo, "configsync init")
    result = run(repo, "validate")
    assert result.code == 0, f"validate of init's own files: {said(result)}"


def round_trip(repo: Path, source: str, copy: str) -> None:
    """plan on the source empty; apply to the empty copy; plan there empty; a
    snapshot of the copy leaves every file as it is."""
    result = run(repo, "plan", database=source)
    assert result.code == 0, f"plan on the adopted database: {said(result)}"
    result = run(repo, "apply", "--yes", database=copy)
    assert result.code == 0, f"apply to the empty copy: {said(result)}"
    result = run(repo, "plan", database=copy)
    assert result.code == 0, f"plan after apply: {said(result)}"
    before = record_files(repo)
    result = run(repo, "snapshot", database=copy)
    assert result.code == 0 and record_files(repo) == before and is_clean(repo), f"snapshot of the copy: {said(result)}"


def text(repo: Path, name: str) -> str:
    return (repo / f"config-snapshots/vals/{name}.yaml").read_text()


def test_special_values_round_trip_on_postgresql(tmp_path: Path, pg_url: str, pg_copy_url: str) -> None:
    for url in (pg_url, pg_copy_url):
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(PG_DDL)  # type: ignore[arg-type]
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(PG_ROWS)  # type: ignore[arg-type]
    repo = new_repo(tmp_path / "repo")
    adopt(repo, pg_url)

    # how the files spell them (the value table of docs/configuration.md)
    assert "n: .nan\nnp: .nan\nf: .nan\nr: .nan\n" in text(repo, "nan")
    assert "n: .inf\n" in text(repo, "inf") and "r: -.inf\n" in text(repo, "inf")
    assert "ts: infinity\ntsn: -infinity\nd: infinity\n" in text(repo, "forever")
    assert "jb:\n  $json: null\njbn:\n  $json: null\nj:\n  $json: null\n" in text(repo, "json_null")
    sql_null = text(repo, "sql_null")
    assert "jb: null\n" in sql_null and "jbn:\n  $json:\n    $json: null\n" in sql_null, sql_null
    arrays = text(repo, "arrays")
    assert "ia:\n- 1\n- null\n- 3\nia2:\n- - 1\n  - null\n- - null\n  - 4\n" in arrays, arrays
    assert "ta:\n- null\n- ''\n- x\n- 'NULL'\n" in arrays and "fa:\n- .nan\n- .inf\n- 1.5\n" in arrays, arrays
    others = text(repo, "others")
    assert "ip: 10.0.0.1\n" in others and "port: 443\n" in others and "bin: \\xdeadbeef\n" in others, others
    assert "span: -1 days +02:00:00\n" in others and "addr: 192.168.0.1/24\n" in others, others
    schema = json.loads((repo / "schemas/vals.schema.json").read_text())
    assert schema["properties"]["port"]["type"] == ["integer", "null"]  # a domain over integer is an integer
    assert schema["properties"]["short"]["maxLength"] == 8

    round_trip(repo, pg_url, pg_copy_url)
    assert pg_values(pg_copy_url) == pg_values(pg_url)
    assert pg_values(pg_copy_url)["json_null"][7:10] == ("null", "null", "null")
    assert pg_values(pg_copy_url)["sql_null"][7:9] == ("SQL NULL", '{"$json": null}')


SQLITE_DDL = """
CREATE TABLE vals (
    name TEXT PRIMARY KEY, n NUMERIC, f REAL, ts TIMESTAMP, d DATE,
    jb JSON, jbn JSON NOT NULL DEFAULT '{}', ia INTEGER[], ia2 INTEGER[], ta TEXT[], fa REAL[]
);
"""
SQLITE_ROWS = """
INSERT INTO vals (name, n, f) VALUES ('inf', 9e999, -9e999), ('ninf', -9e999, 9e999);
INSERT INTO vals (name, ts, d) VALUES ('forever', 'infinity', '-infinity');
INSERT INTO vals (name, jb, jbn) VALUES ('json_null', 'null', 'null'), ('sql_null', NULL, '{"$json": null}');
INSERT INTO vals (name, ia, ia2, ta, fa) VALUES
    ('arrays', '[1, null, 3]', '[[1, null], [null, 4]]', '[null, "", "x"]', '[NaN, Infinity, 1.5]');
"""


def sqlite_values(path: Path) -> dict[str, tuple[object, ...]]:
    """Every column as stored (typeof and value); JSON text by meaning."""
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("SELECT name, n, typeof(n), f, typeof(f), ts, d, jb, jbn, ia, ia2, ta, fa "
                            "FROM vals ORDER BY name").fetchall()
    finally:
        conn.close()
    return {row[0]: tuple(["SQL NULL" if v is None else v for v in row[1:7]] +
                          ["SQL NULL" if v is None else values.dumps(values.canonical(values.loads(v))) for v in row[7:]])
            for row in rows}


def test_special_values_round_trip_on_sqlite(tmp_path: Path) -> None:
    source, copy = tmp_path / "source.db", tmp_path / "copy.db"
    for path, script in ((source, SQLITE_DDL + SQLITE_ROWS), (copy, SQLITE_DDL)):
        conn = sqlite3.connect(path)
        conn.executescript(script)
        conn.close()
    repo = new_repo(tmp_path / "repo")
    adopt(repo, f"sqlite:///{source}")
    assert "n: .inf\nf: -.inf\n" in text(repo, "inf")
    assert "ts: infinity\nd: -infinity\n" in text(repo, "forever")
    assert "jb:\n  $json: null\njbn:\n  $json: null\n" in text(repo, "json_null")
    assert "jb: null\njbn:\n  $json:\n    $json: null\n" in text(repo, "sql_null")
    assert "fa:\n- .nan\n- .inf\n- 1.5\n" in text(repo, "arrays")
    round_trip(repo, f"sqlite:///{source}", f"sqlite:///{copy}")
    assert sqlite_values(copy) == sqlite_values(source)
    assert sqlite_values(copy)["json_null"][6:8] == ("null", "null")  # JSON null, not SQL NULL
    assert sqlite_values(copy)["sql_null"][6] == "SQL NULL"


def test_sqlite_refuses_nan_naming_the_file_and_line(tmp_path: Path) -> None:
    """SQLite stores NULL for a NaN: refused before anything is written."""
    db = tmp_path / "db.sqlite"
    conn = sqlite3.connect(db)
    conn.executescript(SQLITE_DDL + "INSERT INTO vals (name, f) VALUES ('a', 1.5);")
    conn.close()
    repo = new_repo(tmp_path / "repo")
    adopt(repo, f"sqlite:///{db}")
    path = repo / "config-snapshots/vals/a.yaml"
    path.write_text(path.read_text().replace("f: 1.5", "f: .nan"))
    commit_all(repo, "NaN")
    for command in (("plan",), ("apply", "--yes")):
        result = run(repo, *command, database=f"sqlite:///{db}")
        assert result.code == 1, said(result)
        assert "config-snapshots/vals/a.yaml:4: f: this database cannot store NaN" in result.err, said(result)
        assert "Traceback" not in result.text
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT f FROM vals").fetchall() == [(1.5,)]
    conn.close()


@pytest.mark.parametrize(("column", "written", "message"), [
    ("port", "port: .inf", "port: Infinity is not of type 'integer', 'null'"),
    ("jb", "jb: [1, .nan]", "jb: .nan is not a JSON number (JSON has no NaN or Infinity)"),
    ("d", "d: Infinity", "d: 'Infinity' is not valid under any of the given schemas"),  # only PostgreSQL's spelling
    ("np", "np: .inf", "np: Infinity is greater than or equal to the maximum of 10000"),  # numeric(6,2): NaN, not ±Infinity
])
def test_special_values_where_a_column_cannot_hold_them_are_refused(
    tmp_path: Path, pg_url: str, column: str, written: str, message: str
) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(PG_DDL)  # type: ignore[arg-type]
        conn.execute("INSERT INTO vals (name) VALUES ('a')")
    repo = new_repo(tmp_path / "repo")
    adopt(repo, pg_url)
    path = repo / "config-snapshots/vals/a.yaml"
    lines = path.read_text().splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith(f"{column}:"))
    lines[index] = written
    path.write_text("\n".join(lines) + "\n")
    commit_all(repo, "a value the column cannot hold")
    result = run(repo, "apply", "--yes", database=pg_url)
    assert result.code == 1, said(result)
    assert f"config-snapshots/vals/a.yaml:{index + 1}:" in result.err and message in result.err, said(result)
    assert "Traceback" not in result.text


# ---- the value model and the YAML spellings -----------------------------------------------

SPECIAL_ROW: dict[str, values.Value] = {
    "nan": Decimal("NaN"), "inf": Decimal("Infinity"), "ninf": Decimal("-Infinity"),
    "list": [Decimal("NaN"), None, [Decimal("-Infinity"), 1]], "json_null": {"$json": None},
    "wrapped": {"$json": {"$json": None}}, "ts": "infinity", "text": ".nan", "text2": "-.inf",
}


@pytest.mark.parametrize(("fast", "direct"), [(True, True), (True, False), (False, True), (False, False)])
def test_special_values_have_one_spelling_and_read_back(fast: bool, direct: bool) -> None:
    data = yamlio.dump(SPECIAL_ROW, fast=fast, direct=direct)
    assert data == yamlio.dump(SPECIAL_ROW, fast=False, direct=False)  # the bytes never depend on the writer
    assert data.startswith(b"nan: .nan\ninf: .inf\nninf: -.inf\n")
    assert b"text: '.nan'\ntext2: '-.inf'\n" in data  # strings that look like them are quoted
    for loaded in (yamlio.load(data), yamlio.parse(data)[0]):
        assert values.equal(loaded, SPECIAL_ROW)  # type: ignore[arg-type]
        assert isinstance(loaded, dict) and loaded["text"] == ".nan" and loaded["ts"] == "infinity"


@pytest.mark.parametrize("spelling", [".nan", ".NaN", ".NAN", ".inf", "+.inf", ".Inf", "-.inf", "-.INF"])
def test_every_yaml_spelling_of_the_special_floats_is_read(spelling: str) -> None:
    expected = Decimal("NaN") if "n" in spelling.lower().replace("inf", "") else Decimal(spelling.replace(".", "").lower())
    for loaded in (yamlio.load(f"a: {spelling}\n".encode()), yamlio.parse(f"a: {spelling}\n".encode())[0]):
        assert isinstance(loaded, dict)
        assert values.equal(loaded["a"], expected) and str(loaded["a"]) == str(expected)


def test_nan_equals_nan_and_hashes_alike() -> None:
    assert values.equal(Decimal("NaN"), Decimal("NaN"))
    assert not values.equal(Decimal("NaN"), Decimal("Infinity"))
    assert not values.equal(Decimal("Infinity"), Decimal("-Infinity"))
    assert not values.equal("infinity", "-infinity", "timestamp")
    assert not values.equal(None, {"$json": None}, "json")  # SQL NULL is not JSON null
    row = {"a": [Decimal("NaN"), Decimal("Infinity")]}
    assert values.dumps(values.canonical(row)) == values.dumps(values.canonical({"a": [Decimal("-NaN"), Decimal("Inf")]}))
    assert values.equal(values.loads(values.dumps(row)), row)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        values.loads("[NaN]", specials=False)  # a database's JSON never holds one


def test_json_cells_keep_json_null_apart_from_sql_null() -> None:
    for document in (None, {"$json": None}, {"$json": 1}, {"$json": None, "b": 2}, [None], {}, 0, "null"):
        cell = values.json_cell(document)
        assert values.json_document(cell) == document
        assert cell is not None
    assert values.json_cell(None) == {"$json": None}
    assert values.json_cell({"$json": None, "b": 2}) == {"$json": None, "b": 2}  # not a one-key mapping: as is


# ---- the Supabase REST API reads the same files ------------------------------------------------

def test_special_values_read_over_rest_give_the_same_bytes(
    tmp_path: Path, start_project: Callable[..., object],  # noqa: F811 - the fixture imported above
) -> None:
    def setup(db: str) -> None:
        with psycopg.connect(db, autocommit=True) as conn:
            conn.execute(PG_DDL)  # type: ignore[arg-type]
            conn.execute(PG_ROWS)  # type: ignore[arg-type]
            conn.execute("GRANT ALL ON vals TO service_role")

    project = start_project(setup, tables=["vals"])
    direct, rest = new_repo(tmp_path / "direct"), new_repo(tmp_path / "rest")
    adopt(direct, project.db)  # type: ignore[attr-defined]
    for repo in (rest,):
        (repo / "configsync.yaml").write_text((direct / "configsync.yaml").read_text())
        (repo / "schemas").mkdir()
        (repo / "schemas/vals.schema.json").write_text((direct / "schemas/vals.schema.json").read_text())
        commit_all(repo, "config")
    result = project.run(rest, "snapshot")  # type: ignore[attr-defined]
    assert result.code == 2, said(result)
    direct_files, rest_files = record_files(direct), record_files(rest)
    different = [n for n in direct_files if rest_files.get(n) != direct_files[n]]
    assert sorted(rest_files) == sorted(direct_files) and not different, "\n".join(
        f"{n}\n--- rest\n{rest_files.get(n, b'').decode()}--- psycopg\n{direct_files[n].decode()}" for n in different)
    commit_all(rest, "snapshot over REST")
    result = project.run(rest, "plan")  # type: ignore[attr-defined]
    assert result.code == 0, said(result)

    # NaN and ±Infinity are written over REST too (as the strings PostgreSQL reads them from)
    snap = rest / "config-snapshots/vals"
    (snap / "inf.yaml").write_text((snap / "inf.yaml").read_text().replace("n: .inf\n", "n: -.inf\n"))
    (snap / "nan.yaml").write_text((snap / "nan.yaml").read_text().replace("f: .nan\n", "f: .inf\n"))
    commit_all(rest, "special numbers")
    result = project.run(rest, "apply", "--yes")  # type: ignore[attr-defined]
    assert result.code == 0, said(result)
    with psycopg.connect(project.db) as conn:  # type: ignore[attr-defined]
        assert conn.execute("SELECT n::text FROM vals WHERE name = 'inf'").fetchone() == ("-Infinity",)
        assert conn.execute("SELECT f::text, n::text FROM vals WHERE name = 'nan'").fetchone() == ("Infinity", "NaN")
    assert project.run(rest, "plan").code == 0  # type: ignore[attr-defined]

    # a JSON null cannot be written over REST (PostgREST would store SQL NULL): refused
    (snap / "sql_null.yaml").write_text((snap / "sql_null.yaml").read_text().replace("jb: null\n", "jb:\n  $json: null\n"))
    commit_all(rest, "JSON null")
    result = project.run(rest, "apply", "--yes")  # type: ignore[attr-defined]
    assert result.code == 1 and "column jb: a JSON null (not SQL NULL) cannot be written over the REST API" in result.err, \
        said(result)
    with psycopg.connect(project.db) as conn:  # type: ignore[attr-defined]
        assert conn.execute("SELECT jb IS NULL FROM vals WHERE name = 'sql_null'").fetchone() == (True,)


def test_a_wrapped_document_written_by_hand_equals_the_plain_one() -> None:
    """{$json: 5} is the document 5: no difference, so apply converges."""
    assert values.equal({"$json": 5}, 5, "json")
    assert values.equal({"$json": {"a": 1}}, {"a": 1}, "json")
    assert not values.equal({"$json": None}, None, "json")  # JSON null is not SQL NULL
    assert not values.equal({"$json": 5}, 5)  # outside a JSON column a mapping is a mapping
