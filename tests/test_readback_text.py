"""The read-back by text (backends/pgtext.py) against the read-back by value.

After a restore the PostgreSQL backend reads the written rows back as COPY
text and skips loading and comparing a row whose line is the one predicted
from its file. That must never hide a difference the value comparison finds:
every row it skips compares equal the slow way, and apply's message (which
values differ, in which files) is the same. The rows below are written by
COPY into a table whose trigger, default, numeric scale, jsonb, float8,
arrays, timestamps and fixed-width text change or respell what was written.
"""
from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from configsync import readback, values
from configsync.backends import pgtext
from configsync.backends import sql as sql_module
from configsync.backends.base import HistoryEntry, Operation, ReadSpec, WriteBatch
from configsync.backends.postgres import PostgresBackend
from configsync.errors import NotConvergedError

DDL = """
CREATE TABLE t (
    id     integer PRIMARY KEY,
    label  text,
    doc    jsonb,
    j      json,
    amount numeric(20, 10),
    free   numeric,
    ratio  float8,
    tags   text[],
    nums   integer[],
    day    date,
    at     timestamptz,
    flag   boolean,
    u      uuid,
    fixed  char(4),
    note   text DEFAULT 'from the default'
);
CREATE FUNCTION t_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.label = 'shout' THEN NEW.label := upper(NEW.label); END IF;
    IF NEW.id = 3 THEN NEW.doc := NEW.doc || '{"added": 1}'; END IF;
    IF NEW.id = 4 THEN NEW.amount := NEW.amount + 1; END IF;
    IF NEW.id = 5 THEN NEW.tags := array_append(NEW.tags, 'extra'); END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER t_touch BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION t_touch();
"""

D = Decimal
BASE: dict[str, Any] = {
    "label": "plain", "doc": {"b": 1, "a": [1, D("2.5")], "long key": {"z": None, "y": True}},
    "j": {"b": 1, "a": "x"}, "amount": D("3.14"), "free": D("1.50"), "ratio": D("0.1"), "tags": ["x", "y"],
    "nums": [1, None, 3], "day": "2024-02-29", "at": None, "flag": True,
    "u": "0e37df36-f698-11e6-8dd4-cb9ced3df976", "fixed": None, "note": "a note",
}
# id -> what differs from BASE; None: the column is absent from the file.
ROWS: dict[int, dict[str, Any]] = {
    1: {},
    2: {"label": "shout"},                                 # the trigger rewrites it
    3: {},                                                 # ... adds a key to doc
    4: {},                                                 # ... changes amount
    5: {},                                                 # ... appends to tags
    6: {"amount": D("1.123456789012")},                    # numeric(20,10) rounds it
    7: {"amount": 2, "free": D("1E+2")},                   # scale padded; 1E+2 is 100
    8: {"ratio": D("0.1000000000000000055511151231257827")},  # float8 rounds it
    9: {"ratio": D("1E+16")},
    10: {"ratio": D("0.000015"), "free": D("-0")},
    11: {"ratio": D("1E+15")},                             # float8out writes 1e+15
    12: {"ratio": 0, "flag": False},
    13: {"ratio": D("-0.0")},
    14: {"tags": ['quo"te', "back\\slash", "", "NULL", None, "two words", "{brace}", "comma,", "é"]},
    15: {"tags": [], "nums": []},
    16: {"doc": {"$json": None}, "j": {"$json": None}},   # JSON null, not SQL NULL
    17: {"doc": None, "j": None, "tags": None, "nums": None, "ratio": None, "amount": None},
    18: {"doc": {"n": D("1.50"), "e": D("1E+2"), "s": "tab\there \"q\" \\ \n ü", "zero": D("-0")}},
    19: {"doc": {"n": D("1.50"), "e": D("1E+2"), "s": "tab\there \"q\" \\ \n ü"}},
    20: {"doc": [3, "x", {"bb": 1, "a": 2, "é": 3, "ab": 4}]},
    21: {"at": "2024-01-01T10:00:00Z"},                    # timestamps: never predicted
    22: {"at": "2024-01-01T10:00:00+02:00"},           # the same instant
    23: {"u": "0E37DF36-F698-11E6-8DD4-CB9CED3DF976"},     # stored lower case
    24: {"fixed": "ab"},                                   # char(4) pads it: a difference
    25: {"note": None},                                    # absent: the default fills it
    26: {"label": "tab\there\nnewline \\ back"},
    27: {"day": "2024-03-01", "label": ""},
    28: {"free": D("12345678901234567890.123456789"), "amount": D("-999.9999999999")},
    29: {"j": {"spaced": [1, 2], "b": D("2.50")}},
    30: {"doc": {"a": D("1E-7"), "b": D("0E-10"), "big": 10**30}},
}


def _record(row_id: int) -> dict[str, Any]:
    record = {"id": row_id, **BASE, **ROWS[row_id]}
    return {name: value for name, value in record.items() if not (row_id == 25 and name == "note")}


@pytest.fixture
def backend(pg_url: str) -> Iterator[PostgresBackend]:
    backend = PostgresBackend(pg_url, "test")
    backend._connection().execute(DDL)
    try:
        yield backend
    finally:
        backend.close()


def _written(backend: PostgresBackend, ids: list[int]) -> tuple[Any, WriteBatch, ReadSpec]:
    """The rows inserted by COPY in an open transaction (rolled back by the caller)."""
    info = backend.describe(["t"])["t"]
    ops = [Operation("insert", info, {"id": i}, _record(i), f"config-snapshots/t/{i}.yaml", _record(i)) for i in ids]
    batch = WriteBatch([], ops, HistoryEntry("r" * 40, "HEAD", "test", len(ops), 0, 0, "c"), "configsync_history")
    ((spec, _),) = readback.specs(batch)
    cur = backend._connection().cursor()
    cur.execute("BEGIN")
    backend._utc(cur)
    backend._copied = {}  # as _begin_write does
    for group in sql_module._groups(ops):  # as apply sends them: by COPY where many share their columns
        backend._execute_group(cur, group)
    return cur, batch, spec


def _message(check: Any) -> str | None:
    try:
        check()
    except NotConvergedError as exc:
        return str(exc)
    return None


def test_rows_proven_by_text_compare_equal_as_values(backend: PostgresBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = sorted(ROWS)
    cur, batch, spec = _written(backend, ids)
    try:
        rows = {"t": backend._read_rows(cur, spec)}
        slow = _message(lambda: readback.check(batch, rows))
        same = backend._same_as_text(cur, spec, batch.operations, False)
        # No row the text proves has a difference the slow way.
        for i in same:
            assert readback.differences(batch, rows, [batch.operations[i]]) == [], ids[i]
        differing = {ids[i] for i, op in enumerate(batch.operations) if readback.differences(batch, rows, [op])}
        assert differing == {2, 3, 4, 5, 6, 8, 24}
        # The rows spelled as predicted are proven; the others (changed, or
        # spelled otherwise: numeric -0, 1e+15, timestamps, upper-case uuid, char(4),
        # a column left to its default) are compared the slow way.
        assert {ids[i] for i in same} == set(ids) - differing - {10, 11, 18, 21, 22, 23, 25}
        # apply's own read-back, through the text, says exactly what the slow one says.
        monkeypatch.setattr(sql_module, "READ_BACK_CHUNK", 1)
        fast = _message(lambda: backend._read_back(cur, batch))
        assert fast == slow
        assert slow is not None and "config-snapshots/t/2.yaml: column label" in slow
    finally:
        cur.execute("ROLLBACK")


def test_a_clean_restore_is_proven_by_text_alone(backend: PostgresBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    clean = [i for i in sorted(ROWS) if i not in {2, 3, 4, 5, 6, 8, 24}]
    cur, batch, spec = _written(backend, clean)
    try:
        monkeypatch.setattr(sql_module, "READ_BACK_CHUNK", 2)
        loaded: list[int] = []
        original = PostgresBackend._read_rows

        def spy(self: PostgresBackend, *args: Any, **kwargs: Any) -> Any:
            found = original(self, *args, **kwargs)
            loaded.append(len(found))
            return found

        monkeypatch.setattr(PostgresBackend, "_read_rows", spy)
        backend._read_back(cur, batch)  # no difference: no error
        # Only the rows not predicted were loaded (by key), not the table.
        assert sum(loaded) == 7 and len(loaded) == 4
    finally:
        cur.execute("ROLLBACK")


@pytest.mark.parametrize("value", [
    D("0.1"), D("1"), D("123.25"), D("1E+16"), D("1.5E+300"), D("0.000015"), D("1E-300"), D("0.30000000000000004"),
    D("-2.5"), 7, -(10**15 - 1), D("1234567.125"), D("5E-324"), D("1.7976931348623157E+308"),
])
def test_float8_predicted_as_postgresql_prints_it(backend: PostgresBackend, value: Any) -> None:
    """Where a text is predicted it is float8out's; and it loads back equal."""
    predicted = pgtext._float8(value)
    number = float(value)
    printed = backend._connection().execute("SELECT %s::float8::text", [number]).fetchone()[0]  # type: ignore[index]
    assert predicted == printed
    assert values.equal(values.from_db(float(printed)), value, "float")


def _stored(backend: PostgresBackend, ids: list[int]) -> list[tuple[Any, ...]]:
    cur, _, _ = _written(backend, ids)
    try:
        cur.execute("SELECT id, t::text, doc::text, j::text FROM t ORDER BY id")
        return cur.fetchall()
    finally:
        cur.execute("ROLLBACK")


def test_rows_copied_as_predicted_text_store_what_the_driver_stores(
        backend: PostgresBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    """COPY sends a row whose every value has a predicted text as that text;
    the table then holds exactly what the driver's dumpers would have put there."""
    ids = [i for i in sorted(ROWS) if i != 25]  # one group: the same columns
    as_text = _stored(backend, ids)
    assert [table for table, _ in backend._copied] == ["t"]
    assert sum(map(len, backend._copied.values())) >= 15  # most rows went as text
    monkeypatch.setattr(pgtext, "texts", lambda columns, rows: [[None] * len(rows) for _ in columns])
    by_driver = _stored(backend, ids)
    assert not any(backend._copied.values())
    assert as_text == by_driver
