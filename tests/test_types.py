"""Values of every column type, on PostgreSQL, on SQLite and in YAML.

One table, ``typed``, with a composite primary key and a column of each type the
Moose tables use (uuid, text, jsonb, text[], numeric, integer, boolean,
timestamptz) plus bigint, double precision and date, created on both backends
with equivalent DDL and filled with the same rows by plain SQL. Checked:

* a snapshot of either backend gives byte-identical record files;
* an untouched table never shows a diff (plan and snapshot exit 0);
* after an apply that edits every type, plan and snapshot show nothing and SQL
  reads back exactly the edited values (idempotence);
* the edges: numbers beyond a double or a 64-bit integer, time values that
  leave room for interpretation, awkward text, numeric scale (0.70 vs 0.7);
* the value model itself: ``values.equal`` and the YAML round trip of decimals.
"""
from __future__ import annotations

import datetime as dt
import json
import sqlite3
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from configsync import values, yamlio
from configsync.changes import changes
from configsync.records import Record
from helpers import commit_all, execute, permissive_repo, record_files, run

CONFIG = """\
tables:
  typed:
    filename: "{tenant}@{slot}"
"""

# Every column but the key is nullable. Column order is the YAML key order.
PG_DDL = """
CREATE TABLE typed (
    tenant   text             NOT NULL,
    slot     integer          NOT NULL,
    id       uuid,
    label    text,
    doc      jsonb,
    tags     text[],
    amount   numeric,
    qty      integer,
    big      bigint,
    ratio    double precision,
    enabled  boolean,
    seen_at  timestamptz,
    day      date,
    PRIMARY KEY (tenant, slot)
);
"""

# The declared types are what the SQLite backend reads (backends/sqlite.py kind_of).
SQLITE_DDL = """
CREATE TABLE typed (
    tenant   TEXT             NOT NULL,
    slot     INTEGER          NOT NULL,
    id       UUID,
    label    TEXT,
    doc      JSON,
    tags     TEXT[],
    amount   NUMERIC,
    qty      INTEGER,
    big      BIGINT,
    ratio    DOUBLE PRECISION,
    enabled  BOOLEAN,
    seen_at  TIMESTAMPTZ,
    day      DATE,
    PRIMARY KEY (tenant, slot)
);
"""

# Nested JSON: objects in arrays, 1.50 (written normalised as 1.5), 1e-7, booleans, null, and
# a number with more digits than a double holds.
DOC = (
    '{"limits": [{"name": "daily", "cap": 1.50, "tiny": 1e-7, "on": true, "off": false, "none": null},'
    ' {"name": "hourly", "cap": 10}],'
    ' "exact": 12345678901234567890.123456789,'
    ' "nested": {"z": "012", "a": [1, "yes", [2.5]]}}'
)

# The same rows for both backends. Only the timestamps are written differently:
# PostgreSQL gets a non-UTC literal with microseconds; SQLite keeps whatever
# text it is given, so it gets the form configsync writes for the PostgreSQL
# value (see test_snapshot_is_byte_identical_on_both_backends).
ROWS = [
    # tenant, slot, id, label, doc, tags, amount, qty, big, ratio, enabled, (pg seen_at, sqlite seen_at), day
    ("acme", 1, "b3e1f6d2-8c4a-4f1e-9a7b-2d5c6e7f8a90", "Crème brûlée 🍮 — 東京", DOC,
     ["fast", "ünïcödé", "🚀", "012"], "12345.678901", 42, 9007199254740993, "0.1", True,
     ("2025-10-03 14:30:15.1234+02:00", "2025-10-03T12:30:15.1234+00:00"), "2025-10-03"),
    # every nullable column null
    ("acme", 2, None, None, None, None, None, None, None, None, None, (None, None), None),
    # strings that YAML would read as something else, if written unquoted
    ("globex", 3, "0f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a", "012", '{"k": "2025-10-03", "n": null}',
     ["yes", "no", "null", "2025-10-03", "1.0", ""], "-0.000123", -7, -9223372036854775808, "1e-7", False,
     ("2024-02-29 23:59:59-05:00", "2024-03-01T04:59:59+00:00"), "2024-02-29"),
    ("globex", 4, "11111111-2222-4333-8444-555555555555", "yes", "[]", [], "0", 0, 0, "-2.5", True,
     ("2000-01-01 00:00:00.000001+00", "2000-01-01T00:00:00.000001+00:00"), "1999-12-31"),
    ("globex", 5, "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee", "2025-10-03", '{"empty": {}, "list": []}',
     ["line one\nline two"], "100", 2147483647, 1, "123456.789", False,
     ("2025-06-30 23:59:59.999999+14:00", "2025-06-30T09:59:59.999999+00:00"), "2025-06-30"),
    # unicode key, a text with a newline
    ("ünïcode", 6, "cccccccc-dddd-4eee-8fff-000000000000", "first line\nsecond line: 'quoted' \"double\"\n",
     '{"emoji": "🎉", "accents": "àéîõü", "cjk": "漢字"}', ["日本語"], "3.14159", 1, 2, "0", True,
     ("1970-01-01 00:00:00+00", "1970-01-01T00:00:00+00:00"), "1970-01-01"),
]


def _pg_literal_rows() -> list[tuple[Any, ...]]:
    return [(*r[:11], r[11][0], r[12]) for r in ROWS]


def _sqlite_literal_rows() -> list[tuple[Any, ...]]:
    return [(*r[:11], r[11][1], r[12]) for r in ROWS]


def create_postgres(url: str, *, seed: bool = True) -> str:
    with psycopg.connect(url, autocommit=True) as conn:
        # A session time zone that is neither UTC nor a whole hour: timestamps
        # come back from the driver in it and must still be written as UTC.
        conn.execute("DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET timezone = %L', "
                     "current_database(), 'Asia/Kolkata'); END $$")
        conn.execute(PG_DDL)
        for row in _pg_literal_rows() if seed else []:
            conn.execute(
                "INSERT INTO typed VALUES (%s, %s, %s::uuid, %s, %s::jsonb, %s::text[], %s::numeric, %s, "
                "%s, %s::double precision, %s, %s::timestamptz, %s::date)",
                row,
            )
    return url


def create_sqlite(path: Path, *, seed: bool = True) -> str:
    conn = sqlite3.connect(path)
    conn.executescript(SQLITE_DDL)
    for literal in _sqlite_literal_rows() if seed else []:
        row = list(literal)
        row[5] = None if row[5] is None else json.dumps(row[5], ensure_ascii=False)  # TEXT[]: a JSON array
        row[9] = None if row[9] is None else float(row[9])
        row[10] = None if row[10] is None else int(row[10])  # BOOLEAN: 0 / 1
        conn.execute(f"INSERT INTO typed VALUES ({', '.join('?' * 13)})", row)
    conn.commit()
    conn.close()
    return f"sqlite:///{path}"


def make_repo(path: Path) -> Path:
    return permissive_repo(path, CONFIG, ["typed"], "typed table")


@pytest.fixture(params=["sqlite", "postgres"])
def typed_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The typed table with ROWS, on each backend."""
    if request.param == "sqlite":
        return create_sqlite(tmp_path / "db.sqlite")
    url: str = request.getfixturevalue("pg_url")
    return create_postgres(url)


# ---- the same data, the same files ------------------------------------------------


def test_snapshot_is_byte_identical_on_both_backends(tmp_path: Path, pg_url: str) -> None:
    """PostgreSQL and SQLite holding the same rows snapshot to the same bytes.

    Timestamps: PostgreSQL stores an instant and configsync writes it the way
    PostgreSQL's JSON output (and PostgREST) does, in UTC with a 'T', trimmed
    microseconds and '+00:00' (values.format_timestamp) -- whatever offset the
    literal had and whatever the session time zone is. SQLite has no timestamp
    type and returns the text it was given, so the SQLite rows are inserted in
    that canonical form; the test checks the PostgreSQL files really use it.

    Numbers: SQLite's NUMERIC affinity turns numeric text into a REAL (a
    double) or an INTEGER, so the numeric column here only holds values a
    double keeps exactly and without trailing zeros; the many-digit number
    lives in the JSON column, which SQLite keeps as text. Those two limits have
    their own tests: test_numeric_keeps_every_digit_through_apply and
    test_numeric_scale_looks_the_same_on_both_backends.
    """
    pg = make_repo(tmp_path / "pg")
    lite = make_repo(tmp_path / "lite")
    pg_db = create_postgres(pg_url)
    lite_db = create_sqlite(tmp_path / "db.sqlite")

    assert run(pg, "snapshot", database=pg_db).code == 2
    assert run(lite, "snapshot", database=lite_db).code == 2
    pg_files, lite_files = record_files(pg), record_files(lite)

    assert len(pg_files) == len(ROWS)
    assert sorted(pg_files) == sorted(lite_files)
    different = [name for name in pg_files if pg_files[name] != lite_files[name]]
    assert not different, "\n\n".join(
        f"{name}\n--- postgres\n{pg_files[name].decode()}--- sqlite\n{lite_files[name].decode()}"
        for name in different
    )

    acme = pg_files["typed/acme@1.yaml"].decode()
    assert "seen_at: '2025-10-03T12:30:15.1234+00:00'\n" in acme
    assert "big: 9007199254740993\n" in acme
    assert "amount: 12345.678901\n" in acme
    assert "ratio: 0.1\n" in acme
    assert "exact: 12345678901234567890.123456789\n" in acme
    assert "cap: 1.5\n" in acme
    assert "tiny: 0.0000001\n" in acme
    assert "label: Crème brûlée 🍮 — 東京\n" in acme
    assert "enabled: true\n" in acme
    assert "- '012'\n" in acme
    nulls = pg_files["typed/acme@2.yaml"].decode()
    for column in ("id", "label", "doc", "tags", "amount", "qty", "big", "ratio", "enabled", "seen_at", "day"):
        assert f"{column}: null\n" in nulls
    assert "label: '012'\n" in pg_files["typed/globex@3.yaml"].decode()
    assert "label: 'yes'\n" in pg_files["typed/globex@4.yaml"].decode()
    assert "label: '2025-10-03'\n" in pg_files["typed/globex@5.yaml"].decode()
    assert "%C3%BCn%C3%AFcode@6.yaml" in " ".join(pg_files)

    # and the files read back as the database values, on both sides
    for name, data in pg_files.items():
        parsed, _ = yamlio.parse(data)
        assert isinstance(parsed, dict) and parsed["tenant"] and parsed["slot"], name
    acme_values: Any = yamlio.parse(pg_files["typed/acme@1.yaml"])[0]
    assert acme_values["big"] == 9007199254740993
    assert acme_values["doc"]["exact"] == Decimal("12345678901234567890.123456789")
    assert acme_values["enabled"] is True
    assert acme_values["tags"] == ["fast", "ünïcödé", "🚀", "012"]


def test_untouched_table_never_shows_a_diff(tmp_path: Path, typed_url: str) -> None:
    """Right after a snapshot, plan and a second snapshot find nothing, and
    applying the untouched files is a no-op."""
    repo = make_repo(tmp_path / "repo")
    result = run(repo, "snapshot", "--commit", database=typed_url)
    assert result.code == 2, result.text
    before = record_files(repo)

    result = run(repo, "plan", database=typed_url)
    assert result.code == 0, result.text
    assert "No changes." in result.out, result.out
    result = run(repo, "snapshot", database=typed_url)
    assert result.code == 0, result.text
    assert record_files(repo) == before
    # applying the untouched files changes nothing either
    result = run(repo, "apply", "--yes", database=typed_url)
    assert result.code == 0, result.text
    assert run(repo, "plan", database=typed_url).code == 0


# ---- edit, apply, and nothing left to do -------------------------------------------

NEW_ROW = """\
tenant: initech
slot: 7
id: 0F8E7D6C-5B4A-4392-8170-6F5E4D3C2B1B
label: "Ωmega ✓ 012"
doc:
  exact: 98765432109876543210.0123456789
  list: [{a: 1.50}, {b: null}, true, '1e-7', 1.0e-7]
tags: ['yes', 'ü', '2026-01-02']
amount: 0.000000000000000001
qty: -1
big: 9007199254740995
ratio: 1.0e-300
enabled: false
seen_at: 2026-01-02T03:04:05.000500-05:00
day: 2026-01-02
"""


# Hand edits of acme@1.yaml (line before, line after) that the REST backend's
# test makes too, so both check the same written values.
ACME_EDITS = [
    ("amount: 12345.678901", "amount: 98765.43210"),
    ("  exact: 12345678901234567890.123456789", "  exact: 12345678901234567890.123456788"),  # the last of 29 digits
    ("big: 9007199254740993", "big: 9007199254740995"),
    ("ratio: 0.1", "ratio: 2.5e-8"),
    ("seen_at: '2025-10-03T12:30:15.1234+00:00'", "seen_at: 2025-12-24T18:00:00.5+01:00"),
    ("day: '2025-10-03'", "day: 2025-12-24"),
    ("qty: 42", "qty: null"),
]


def replace_line(path: Path, old: str, new: str) -> None:
    """Edit a record file by hand: replace exactly one line."""
    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines.count(old) == 1, f"{old!r} not once in {path.name}:\n" + "\n".join(lines)
    lines[lines.index(old)] = new
    path.write_text("\n".join(lines), encoding="utf-8")


def read_row(url: str, tenant: str, slot: int) -> dict[str, Any]:
    """One row straight from the database, as comparable Python values.

    Exact types: numeric -> Decimal from the stored text (no float on the way
    for PostgreSQL), JSON parsed with Decimal numbers, timestamps as aware
    datetimes, uuids as UUID.
    """
    columns = ["id", "label", "doc", "tags", "amount", "qty", "big", "ratio", "enabled", "seen_at", "day"]
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url[len("sqlite:///"):])
        try:
            raw = conn.execute(f"SELECT {', '.join(columns)} FROM typed WHERE tenant = ? AND slot = ?",
                               (tenant, slot)).fetchone()
        finally:
            conn.close()
    else:
        select = ", ".join(f"{c}::text" if c in ("doc", "amount") else c for c in columns)
        with psycopg.connect(url) as pg:
            raw = pg.execute(f"SELECT {select} FROM typed WHERE tenant = %s AND slot = %s", (tenant, slot)).fetchone()
    assert raw is not None, f"no row {tenant}/{slot}"
    row = dict(zip(columns, raw, strict=True))
    convert: dict[str, Callable[[Any], Any]] = {
        "id": lambda v: uuid.UUID(str(v)),
        # SQLite's JSON columns have NUMERIC affinity: a bare number is stored as one
        "doc": lambda v: json.loads(v, parse_float=Decimal) if isinstance(v, str) else _number(v),
        "tags": lambda v: json.loads(v) if isinstance(v, str) else list(v),
        # SQLite returns NUMERIC as int/float (or text); repr is the shortest exact text
        "amount": _number,
        "ratio": float,
        "enabled": lambda v: {0: False, 1: True}[v] if type(v) is int else v,
        "seen_at": lambda v: dt.datetime.fromisoformat(v) if isinstance(v, str) else v,
        "day": lambda v: dt.date.fromisoformat(v) if isinstance(v, str) else v,
    }
    return {c: (None if v is None else convert.get(c, lambda x: x)(v)) for c, v in row.items()}


def _number(value: Any) -> Decimal:
    """A stored number as a Decimal; a float via repr, the shortest text that is that double."""
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))


def test_apply_every_type_then_nothing_left_to_do(tmp_path: Path, typed_url: str) -> None:
    repo = make_repo(tmp_path / "repo")
    assert run(repo, "snapshot", "--commit", database=typed_url).code == 2
    assert run(repo, "plan", database=typed_url).code == 0

    snapshots = repo / "config-snapshots" / "typed"
    acme = snapshots / "acme@1.yaml"
    for old, new in ACME_EDITS:
        replace_line(acme, old, new)
    replace_line(acme, "  - cap: 1.5", "  - cap: 2.75")  # a jsonb leaf inside an array
    replace_line(acme, "- 🚀", "- 🛰️")  # an array element
    replace_line(acme, "enabled: true", "enabled: false")
    replace_line(acme, "label: Crème brûlée 🍮 — 東京", "label: null")
    nulls = snapshots / "acme@2.yaml"  # null -> values
    replace_line(nulls, "doc: null", "doc: {on: yes, n: 0.70}")
    replace_line(nulls, "tags: null", "tags: []")
    replace_line(nulls, "amount: null", "amount: 0.70")
    replace_line(nulls, "enabled: null", "enabled: true")
    (snapshots / "initech@7.yaml").write_text(NEW_ROW, encoding="utf-8")
    commit_all(repo, "edit every type")

    result = run(repo, "plan", "--format", "json", database=typed_url)
    assert result.code == 2, result.text
    plan = json.loads(result.out)
    assert plan["summary"] == {"create": 1, "update": 2, "delete": 0, "total": 3}
    fields = {tuple(c["key"].values()): sorted(c.get("fields", [])) for c in plan["changes"]}
    assert fields[("acme", 1)] == sorted(
        ["amount", "doc", "tags", "big", "ratio", "enabled", "seen_at", "day", "qty", "label"])
    assert fields[("acme", 2)] == ["amount", "doc", "enabled", "tags"]

    result = run(repo, "apply", "--yes", database=typed_url)
    assert result.code == 0, result.text
    result = run(repo, "plan", database=typed_url)
    assert result.code == 0, result.text  # idempotent: nothing left to do
    assert "No changes." in result.out
    before = record_files(repo)
    result = run(repo, "snapshot", database=typed_url)
    assert result.code == 0, result.text  # no drift: the files already say what the database holds
    assert record_files(repo) == before

    row = read_row(typed_url, "acme", 1)
    assert row["amount"] == Decimal("98765.43210")
    assert row["doc"]["exact"] == Decimal("12345678901234567890.123456788")
    assert row["doc"]["limits"][0] == {
        "name": "daily", "cap": Decimal("2.75"), "tiny": Decimal("1e-7"), "on": True, "off": False, "none": None}
    assert row["tags"] == ["fast", "ünïcödé", "🛰️", "012"]
    assert row["big"] == 9007199254740995
    assert row["ratio"] == 2.5e-8
    assert row["enabled"] is False
    assert row["seen_at"] == dt.datetime(2025, 12, 24, 17, 0, 0, 500000, tzinfo=dt.UTC)
    assert row["day"] == dt.date(2025, 12, 24)
    assert row["qty"] is None and row["label"] is None
    assert row["id"] == uuid.UUID("b3e1f6d2-8c4a-4f1e-9a7b-2d5c6e7f8a90")  # untouched

    row = read_row(typed_url, "acme", 2)
    assert row["doc"] == {"on": True, "n": Decimal("0.70")}
    assert row["tags"] == [] and row["amount"] == Decimal("0.7") and row["enabled"] is True
    assert row["id"] is None and row["seen_at"] is None and row["day"] is None

    row = read_row(typed_url, "initech", 7)
    assert row == {
        "id": uuid.UUID("0f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1b"),
        "label": "Ωmega ✓ 012",
        "doc": {"exact": Decimal("98765432109876543210.0123456789"),
                "list": [{"a": Decimal("1.50")}, {"b": None}, True, "1e-7", Decimal("1e-7")]},
        "tags": ["yes", "ü", "2026-01-02"],
        "amount": Decimal("0.000000000000000001"),
        "qty": -1,
        "big": 9007199254740995,
        "ratio": 1e-300,
        "enabled": False,
        "seen_at": dt.datetime(2026, 1, 2, 8, 4, 5, 500, tzinfo=dt.UTC),
        "day": dt.date(2026, 1, 2),
    }
    if typed_url.startswith("postgresql"):
        # numeric keeps the digits exactly as written, trailing zeros included
        assert str(read_row(typed_url, "acme", 1)["amount"]) == "98765.43210"
        assert str(read_row(typed_url, "acme", 2)["doc"]["n"]) == "0.70"


@pytest.fixture(params=["sqlite", "postgres"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The typed table without rows, on each backend."""
    if request.param == "sqlite":
        return create_sqlite(tmp_path / "db.sqlite", seed=False)
    return create_postgres(request.getfixturevalue("pg_url"), seed=False)


def repo_with_record(path: Path, body: str) -> Path:
    """A config repository holding one committed record, typed/acme@1."""
    repo = make_repo(path)
    record = repo / "config-snapshots" / "typed" / "acme@1.yaml"
    record.parent.mkdir(parents=True)
    record.write_text("tenant: acme\nslot: 1\n" + body, encoding="utf-8")
    commit_all(repo, "one record")
    return repo


def row_count(url: str) -> int:
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url[len("sqlite:///"):])
        try:
            return int(conn.execute("SELECT count(*) FROM typed").fetchone()[0])
        finally:
            conn.close()
    with psycopg.connect(url) as pg:
        found = pg.execute("SELECT count(*) FROM typed").fetchone()
        assert found is not None
        return int(found[0])


@pytest.mark.parametrize("column, text", [
    pytest.param("amount", "12345678901234567890.123456789", id="numeric-29-digits"),
    pytest.param("amount", "123456789012345678901234567890", id="numeric-integer-beyond-64-bits"),
    pytest.param("doc", "98765432109876543210.0123456789", id="json-number-29-digits"),
])
def test_exact_number_survives_apply(tmp_path: Path, empty_url: str, column: str, text: str) -> None:
    """A number with more digits than a double (or a 64-bit integer) holds is
    stored exactly, and the next plan is empty -- or, where the database
    cannot hold it, refused before anything is written.

    PostgreSQL's numeric and jsonb hold it: stored exactly. SQLite's NUMERIC
    affinity (which the declared type JSON gets too) would turn it into a
    double: configsync refuses the apply, naming the record and the column,
    and nothing is written (never a rounded number, never a crash).
    """
    repo = repo_with_record(tmp_path / "repo", f"{column}: {text}\n")
    result = run(repo, "apply", "--yes", database=empty_url)
    assert "Traceback" not in result.text
    if empty_url.startswith("sqlite"):
        assert result.code == 1, result.text
        assert result.err.startswith(
            f"error: apply failed at typed config-snapshots/typed/acme@1.yaml: column {column}: "
            f"SQLite cannot store {text} exactly"), result.err
        assert result.err.rstrip().endswith("nothing was changed"), result.err
        assert row_count(empty_url) == 0
        return
    assert result.code == 0, result.text

    stored = read_row(empty_url, "acme", 1)[column]
    plan = run(repo, "plan", database=empty_url)
    # one assertion, so that a failure shows both
    assert {"stored": stored, "plan exit code": plan.code} == {"stored": Decimal(text), "plan exit code": 0}, plan.out


UTC = dt.UTC


@pytest.mark.parametrize("column, text, stored", [
    # no offset: configsync reads it as UTC, whatever the session's time zone (Asia/Kolkata here)
    pytest.param("seen_at", "2025-10-03 12:30:15", dt.datetime(2025, 10, 3, 12, 30, 15, tzinfo=UTC),
                 id="timestamptz-without-offset"),
    pytest.param("seen_at", "2025-10-03", dt.datetime(2025, 10, 3, tzinfo=UTC), id="timestamptz-given-a-date"),
    # a date column would drop the time: refused by validation, with the file's line
    pytest.param("day", "2025-10-03T22:00:00+00:00", None, id="date-given-a-timestamp"),
])
def test_time_values_are_stored_exactly_or_refused(
    tmp_path: Path, empty_url: str, column: str, text: str, stored: dt.datetime | None
) -> None:
    """Time values that leave something to interpretation: a timestamp without
    an offset (configsync compares it as UTC; PostgreSQL reads it in the
    session time zone, Asia/Kolkata here, see create_postgres), a bare date for
    a timestamptz, a timestamp for a date. Each has one outcome on both
    backends: stored as the instant the file means (and the next plan is
    empty), or refused with the file, line and column, nothing written."""
    repo = repo_with_record(tmp_path / "repo", f"{column}: {text}\n")
    result = run(repo, "apply", "--yes", database=empty_url)
    assert "Traceback" not in result.text
    if stored is None:
        assert result.code == 1, result.text
        assert (f"config-snapshots/typed/acme@1.yaml:3: {column}: expected an ISO-8601 date, got {text!r}"
                in result.err), result.err
        assert row_count(empty_url) == 0
        return
    assert result.code == 0, result.text
    value = read_row(empty_url, "acme", 1)[column]
    if value.tzinfo is None:  # SQLite keeps the text: no offset means UTC
        value = value.replace(tzinfo=UTC)
    assert value == stored
    result = run(repo, "plan", database=empty_url)
    assert result.code == 0, result.text


AWKWARD_TEXT = [
    "next\x85line (NEL, U+0085)",
    "multi\x85line\nblock",
    "line \u2028 separator",
    "paragraph \u2029 separator",
    "tab\there",
    "windows\r\nline end",
    "old mac\ronly",
    "trailing space \nnext line",
    "  indented first line\nsecond",
    "\n",
    "ends with two newlines\n\n",
    "no-break\u00a0space",
    "zero\u200bwidth",
    "e\u0301 combining accent",
    "escape \x1b[31m red",
    "bell \x07",
    "'single' and \"double\" quotes: # not a comment",
    "@at `backtick` %percent {brace} [bracket] *star &amp !bang |pipe >gt",
]


def test_untouched_awkward_text_never_shows_a_diff(tmp_path: Path, empty_url: str) -> None:
    """Text with control characters, Unicode line breaks and YAML indicators
    snapshots to files that read back as the same text: plan and snapshot stay
    quiet. In a text column, in a text[] element and in a jsonb string."""
    for slot, text in enumerate(AWKWARD_TEXT, start=1):
        doc = json.dumps({"s": text})
        if empty_url.startswith("sqlite"):
            execute(empty_url, "INSERT INTO typed (tenant, slot, label, tags, doc) VALUES ('acme', ?, ?, ?, ?)",
                    [slot, text, json.dumps([text]), doc])
        else:
            execute(empty_url, "INSERT INTO typed (tenant, slot, label, tags, doc) "
                    "VALUES ('acme', %s, %s, %s, %s::jsonb)", [slot, text, [text], doc])
    repo = make_repo(tmp_path / "repo")
    assert run(repo, "snapshot", "--commit", database=empty_url).code == 2

    read_back = {}
    for data in record_files(repo).values():
        row: Any = yamlio.parse(data)[0]
        read_back[row["slot"]] = (row["label"], row["tags"], row["doc"])
    expected = {slot: (text, [text], {"s": text}) for slot, text in enumerate(AWKWARD_TEXT, start=1)}
    assert read_back == expected
    result = run(repo, "plan", database=empty_url)
    assert result.code == 0, result.text
    result = run(repo, "snapshot", database=empty_url)
    assert result.code == 0, result.text


def test_numeric_scale_looks_the_same_on_both_backends(tmp_path: Path, pg_url: str) -> None:
    """numeric 0.70 and 100.00 inserted with the same SQL snapshot to the same bytes.

    SQLite's NUMERIC affinity stores them as the REAL 0.7 and the INTEGER 100;
    PostgreSQL keeps the scale. The values compare equal either way; the YAML
    must look the same too ("one table looks the same in YAML on both backends").
    """
    pg_db = create_postgres(pg_url, seed=False)
    lite_db = create_sqlite(tmp_path / "db.sqlite", seed=False)
    for url, sql in ((pg_db, "INSERT INTO typed (tenant, slot, amount) VALUES ('acme', 1, 0.70), ('acme', 2, 100.00)"),
                     (lite_db, "INSERT INTO typed (tenant, slot, amount) VALUES ('acme', 1, 0.70), ('acme', 2, 100.00)")):
        execute(url, sql)
    pg, lite = make_repo(tmp_path / "pg"), make_repo(tmp_path / "lite")
    assert run(pg, "snapshot", database=pg_db).code == 2
    assert run(lite, "snapshot", database=lite_db).code == 2

    def amounts(repo: Path) -> list[str]:
        return [line for data in record_files(repo).values()
                for line in data.decode().splitlines() if line.startswith("amount:")]

    assert amounts(pg) == amounts(lite)


@pytest.mark.parametrize("stored, written", [("0.70", "0.7"), ("0.7", "0.70"), ("2", "2.000")])
def test_hand_written_equal_number_shows_no_diff(
    tmp_path: Path, typed_url: str, stored: str, written: str
) -> None:
    """A record file that says 0.7 where the database holds 0.70 (numeric and a
    jsonb leaf) is not a change: plan and snapshot leave it alone."""
    execute(typed_url, "DELETE FROM typed")
    doc = f'{{"n": {stored}}}'
    if typed_url.startswith("sqlite"):
        execute(typed_url, f"INSERT INTO typed (tenant, slot, amount, doc) VALUES ('acme', 1, {stored}, ?)", [doc])
    else:
        execute(typed_url, f"INSERT INTO typed (tenant, slot, amount, doc) VALUES ('acme', 1, {stored}, %s::jsonb)", [doc])
    repo = make_repo(tmp_path / "repo")
    assert run(repo, "snapshot", "--commit", database=typed_url).code == 2
    record = repo / "config-snapshots" / "typed" / "acme@1.yaml"
    text = record.read_text(encoding="utf-8")
    shown_amount = next(line for line in text.splitlines() if line.startswith("amount: "))
    replace_line(record, shown_amount, f"amount: {written}")
    replace_line(record, next(line for line in text.splitlines() if line.startswith("  n: ")), f"  n: {written}")
    commit_all(repo, "same numbers, written differently")
    hand_written = record.read_bytes()

    result = run(repo, "plan", database=typed_url)
    assert result.code == 0, result.text
    result = run(repo, "snapshot", database=typed_url)
    assert result.code == 0, result.text
    assert record.read_bytes() == hand_written


# ---- the value model, no database ---------------------------------------------------

SAME = [
    (Decimal("0.70"), Decimal("0.7"), "numeric"),
    (1, Decimal("1.0"), "numeric"),
    (1, Decimal("1.0"), "other"),
    (9007199254740993, Decimal(9007199254740993), "integer"),
    ({"cap": [Decimal("1.50"), 2]}, {"cap": [Decimal("1.5"), Decimal("2.0")]}, "json"),
    ("2025-10-03T14:30:15.1234+02:00", "2025-10-03T12:30:15.1234+00:00", "timestamp"),
    ("2025-10-03T12:30:15Z", "2025-10-03T12:30:15.000+00:00", "timestamp"),
    ("2025-10-03 07:30:15-05:00", "2025-10-03T12:30:15+00:00", "timestamp"),
    ("2025-10-03", "2025-10-03", "date"),
    ("B3E1F6D2-8C4A-4F1E-9A7B-2D5C6E7F8A90", "b3e1f6d2-8c4a-4f1e-9a7b-2d5c6e7f8a90", "uuid"),
    ("Crème brûlée 🍮 東京", "Crème brûlée 🍮 東京", "text"),
    (None, None, "numeric"),
    ([], [], "array"),
]

DIFFERENT = [
    (True, 1, "boolean"),
    (True, 1, "other"),
    (False, 0, "json"),
    (True, Decimal(1), "other"),
    ([True], [1], "json"),
    ({"on": False}, {"on": 0}, "json"),
    (Decimal("0.1"), Decimal("0.10000000000000001"), "numeric"),
    (9007199254740993, 9007199254740992, "integer"),  # equal as doubles
    ("2025-10-03T12:30:15+02:00", "2025-10-03T12:30:15+00:00", "timestamp"),
    ("2025-10-03T14:30:15.1234+02:00", "2025-10-03T12:30:15.1234+00:00", "text"),
    ("2025-10-03", "2025-10-04", "date"),
    ("B3E1F6D2-8C4A-4F1E-9A7B-2D5C6E7F8A90", "b3e1f6d2-8c4a-4f1e-9a7b-2d5c6e7f8a90", "text"),
    ("b3e1f6d2-8c4a-4f1e-9a7b-2d5c6e7f8a90", "b3e1f6d2-8c4a-4f1e-9a7b-2d5c6e7f8a91", "uuid"),
    ("012", Decimal(12), "other"),
    ("yes", True, "other"),
    (None, "", "text"),
    (None, 0, "integer"),
    (None, False, "boolean"),
    (None, [], "array"),
    ({"a": None}, {}, "json"),
    (["a", "b"], ["b", "a"], "array"),
]


@pytest.mark.parametrize("a, b, kind", SAME)
def test_equal_values(a: Any, b: Any, kind: str) -> None:
    assert values.equal(a, b, kind)
    assert values.equal(b, a, kind)


@pytest.mark.parametrize("a, b, kind", DIFFERENT)
def test_different_values(a: Any, b: Any, kind: str) -> None:
    assert not values.equal(a, b, kind)
    assert not values.equal(b, a, kind)


DECIMALS = [
    "12345678901234567890.123456789",
    "-98765432109876543210.0123456789",
    "0.70",
    "100.00",
    "1.50",
    "-0.000123",
    "1E-7",
    "0.000000000000000001",
    "0",
    "1.23456789012345678901234567890E-40",  # beyond positional notation: exponent form
    "9.99999999999999999999999999999E+40",
]


@pytest.mark.parametrize("text", DECIMALS)
def test_yaml_round_trip_keeps_every_digit(text: str) -> None:
    number = Decimal(text)
    data = yamlio.dump({"amount": Decimal(text), "doc": {"list": [Decimal(text), {"n": Decimal(text)}]}})
    parsed: Any = yamlio.parse(data)[0]
    back = [parsed["amount"], parsed["doc"]["list"][0], parsed["doc"]["list"][1]["n"]]
    for value in back:
        assert isinstance(value, (int, Decimal)) and not isinstance(value, bool), data
        assert value == number, data
        if -24 <= number.adjusted() <= 24:
            # positional notation, every digit, trailing zeros dropped (0.70 -> 0.7):
            # the bytes depend on the value, not on a column's scale
            assert f"amount: {format(values.normalize(number), 'f')}\n" in data.decode(), data


def test_yaml_dump_depends_on_values_not_on_object_identity() -> None:
    """The same value twice is written out twice: PyYAML would otherwise write
    an anchor and an alias (&id001 / *id001), which yamlio.parse refuses, for
    any repeated object it does not treat as a plain scalar (Decimal, list, dict)."""
    shared_number, shared_list = Decimal("0.70"), ["a", "b"]
    shared: dict[str, Any] = {"amount": shared_number, "doc": {"n": shared_number, "tags": shared_list}, "tags": shared_list}
    copies: dict[str, Any] = {"amount": Decimal("0.70"), "doc": {"n": Decimal("0.70"), "tags": ["a", "b"]}, "tags": ["a", "b"]}
    assert yamlio.dump(shared) == yamlio.dump(copies)
    parsed, _ = yamlio.parse(yamlio.dump(shared))
    assert parsed == copies


def _typed(value: Any) -> Any:
    """A value with its types spelled out, so True != 1 and '1' != 1 in a comparison."""
    if isinstance(value, dict):
        return {k: _typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_typed(v) for v in value]
    return (type(value).__name__, str(value))


def test_yaml_round_trip_of_every_type() -> None:
    """What snapshot writes, validation reads back unchanged: same types, same text."""
    row: dict[str, Any] = {
        "tenant": "ünïcode", "slot": 6, "id": "b3e1f6d2-8c4a-4f1e-9a7b-2d5c6e7f8a90",
        "label": "first line\nsecond line: 'quoted' \"double\"\n",
        "doc": {"limits": [{"cap": Decimal("1.5"), "on": True, "off": False, "none": None}],
                "exact": Decimal("12345678901234567890.123456789"), "empty": {}, "list": []},
        "tags": ["yes", "no", "null", "~", "012", "1e-7", "2025-10-03", "", " padded ", "🚀", "- dash", "#hash"],
        "amount": Decimal("0.7"), "qty": -42, "big": 9007199254740993, "ratio": Decimal("1E-7"),
        "enabled": False, "seen_at": "2025-10-03T12:30:15.1234+00:00", "day": "2025-10-03",
        "nothing": None, "looks_like_int": "012", "looks_like_bool": "yes", "looks_like_float": "1.0",
    }
    parsed, _ = yamlio.parse(yamlio.dump(row))
    assert _typed(parsed) == _typed(row)


def test_record_with_equal_number_is_not_a_change() -> None:
    """The diff itself: 0.7 written by hand against 0.70 read from the database."""
    written, _ = yamlio.parse(b"tenant: acme\nslot: 1\namount: 0.7\ndoc:\n  n: 0.7\n  m: 2.0\nbig: 9007199254740993\n")
    assert isinstance(written, dict)
    database: dict[str, Any] = {"tenant": "acme", "slot": 1, "amount": Decimal("0.70"), "doc": {"n": Decimal("0.70"), "m": 2},
                "big": 9007199254740993}
    key = ("acme", 1)
    file = "config-snapshots/typed/acme@1.yaml"
    kinds = {"tenant": "text", "slot": "integer", "amount": "numeric", "doc": "json", "big": "integer"}
    found = changes("typed", {key: Record("typed", key, written, file)},
                    {key: Record("typed", key, database, file)}, ["tenant", "slot"], kinds)
    assert found == []
    # and a real difference in the last digit is one
    database["big"] = 9007199254740992
    found = changes("typed", {key: Record("typed", key, written, file)},
                    {key: Record("typed", key, database, file)}, ["tenant", "slot"], kinds)
    assert [c.fields for c in found] == [("big",)]
