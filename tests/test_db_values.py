"""Database values through the fast conversions equal the generic ones.

`values.rows_from_db` (PostgreSQL's read path) converts by column kind and
exact type instead of asking `values.from_db` of every cell; `values.loads`
keeps its decoders instead of building one per call. Both must give exactly
the values of the slow path: same types, same digits, same key order. Values
are compared by ``repr`` so that 1, True and Decimal('1') or two NaNs are told
apart (``==`` would mix them up).
"""
from __future__ import annotations

import datetime as dt
import enum
import json
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from configsync import values
from configsync.backends import open_backend
from configsync.backends.base import ReadSpec
from configsync.backends.postgres import PostgresBackend
from configsync.backends.sql import SqlBackend
from helpers import execute
from hypothesis import given, settings
from hypothesis import strategies as st

DDL = """
CREATE DOMAIN doc_domain AS jsonb;
CREATE TABLE cells (
    id        integer PRIMARY KEY,
    label     text,
    code      varchar(20),
    small     smallint,
    big       bigint,
    amount    numeric,
    fixed     numeric(20,10),
    ratio     double precision,
    single    real,
    enabled   boolean,
    doc       jsonb,
    raw_doc   json,
    dom_doc   doc_domain,
    tags      text[],
    counts    integer[],
    grid      integer[][],
    prices    numeric[],
    weights   float8[],
    days      date[],
    seen_at   timestamptz,
    local_at  timestamp,
    day       date,
    at_time   time,
    at_timetz timetz,
    uid       uuid,
    blob      bytea,
    addr      inet,
    span      interval
);
"""

BIG = "1" + "0" * 60 + ".000000000000000000000000001"
ROWS = [
    # every column NULL
    "INSERT INTO cells (id) VALUES (1)",
    # the specials: NaN and ±Infinity, infinite dates, JSON null, -0
    """INSERT INTO cells VALUES (2, '', '', -32768, -9223372036854775808, 'NaN', 0, 'NaN', '-Infinity', false,
        'null', 'null', 'null', '{}', '{}', '{}', '{NaN,Infinity,-Infinity}', '{NaN,Infinity,-Infinity,-0}',
        '{infinity,-infinity}', 'infinity', '-infinity', 'infinity', '00:00', '00:00+00', NULL, '', '::1',
        '0')""",
    f"""INSERT INTO cells VALUES (3, 'héllo 🙂 wörld', 'Ω', 32767, 9223372036854775807, 'Infinity', -1234567890.0123456789,
        '-0', 'Infinity', true,
        '{{"A": 1, "a": [1.50, 1e-7, null, true, "x"], "b": {{"c": 12345678901234567890123456789, "d": {BIG}}}}}',
        '{{"k": 1, "k": 2, "K": 3.0}}', '{{"$json": null}}',
        '{{"a b",NULL,"","{{}}","🙂"}}', '{{1,NULL,-3}}', '{{{{1,2}},{{3,4}}}}', '{{{BIG},0.70,-0.0}}',
        '{{1.5,1e300,5e-324,NULL}}', '{{2024-02-29,NULL}}',
        '2024-02-29 23:59:59.123456+05:30', '1999-12-31 00:00:00.5', '0001-01-01', '23:59:59.999999',
        '12:00:00.25-03:30', 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', '\\x00ff10', '10.0.0.1/32',
        '1 year 2 mons 3 days 04:05:06.7')""",
    """INSERT INTO cells (id, amount, ratio, doc, raw_doc, dom_doc, tags, weights)
       VALUES (4, '-Infinity', 'Infinity', '[1, [2, [3, {"z": {}}]], []]', '"just text"', '{"$json": 5}',
       '{"line\nbreak","tab\there"}', '{0.1,0.2,0.30000000000000004}')""",
    """INSERT INTO cells (id, amount, fixed, ratio, doc) VALUES
       (5, 0.70, 0.7000000000, 0.1, '{"e": 1E+400, "f": -0.0, "g": 0, "h": ""}')""",
]


def _read(backend: PostgresBackend) -> list[Any]:
    table = backend.describe(["cells"])["cells"]
    spec = ReadSpec(table, tuple(c.name for c in table.columns), ("id",))
    return backend.read([spec])["cells"]


def test_postgres_rows_equal_the_generic_conversion(pg_url: str, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    execute(pg_url, DDL)
    for row in ROWS:
        execute(pg_url, row)
    backend = open_backend(pg_url, tmp_path)
    assert isinstance(backend, PostgresBackend)
    try:
        fast = _read(backend)
        # The generic path: values.from_db for every cell, as SqlBackend does it.
        monkeypatch.setattr(PostgresBackend, "_rows_from_db", SqlBackend._rows_from_db)
        slow = _read(backend)
    finally:
        backend.close()
    assert len(fast) == len(ROWS)
    assert [list(r) for r in fast] == [list(r) for r in slow]  # key order
    for fast_row, slow_row in zip(fast, slow, strict=True):
        for name in slow_row:
            assert repr(fast_row[name]) == repr(slow_row[name]), name
    # The edges are really there (a read that lost them would agree with itself).
    specials = fast[1]
    assert repr(specials["amount"]) == "Decimal('NaN')" and repr(specials["single"]) == "Decimal('-Infinity')"
    assert specials["doc"] == {"$json": None} and specials["day"] == "infinity"
    assert repr(specials["weights"][-1]) == "Decimal('-0.0')"
    assert fast[2]["raw_doc"] == {"k": 2, "K": Decimal("3.0")} and fast[2]["doc"]["A"] == 1
    assert fast[2]["doc"]["b"]["d"] == Decimal(BIG) and fast[2]["grid"] == [[1, 2], [3, 4]]
    assert fast[2]["seen_at"] == "2024-02-29T18:29:59.123456+00:00" and fast[2]["blob"] == "\\x00ff10"
    assert fast[2]["uid"] == "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11" and fast[2]["label"] == "héllo 🙂 wörld"
    assert fast[3]["dom_doc"] == {"$json": {"$json": 5}}
    assert fast[4]["amount"] == Decimal("0.70") and fast[4]["doc"]["e"] == 10**400  # jsonb keeps it as digits


class _Level(enum.IntEnum):
    LOW = 1


class _Text(str):
    pass


class _Odd:
    def __str__(self) -> str:
        return "odd"


_TZ = st.sampled_from([None, dt.UTC, dt.timezone(dt.timedelta(hours=5, minutes=30)),
                       dt.timezone(dt.timedelta(hours=-3))])
_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(max_size=8), st.decimals(allow_nan=True, allow_infinity=True),
    st.floats(allow_nan=True, allow_infinity=True), st.dates(),
    st.datetimes(timezones=_TZ), st.times(timezones=_TZ), st.uuids(), st.binary(max_size=4),
    st.builds(bytearray, st.binary(max_size=4)), st.builds(memoryview, st.binary(max_size=4)),
    st.just(_Level.LOW), st.builds(_Text, st.text(max_size=4)), st.just(_Odd()),
)
_CELLS = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(st.one_of(st.text(max_size=3), st.integers(0, 3)), inner, max_size=3),
    ),
    max_leaves=8,
)
_KINDS = st.sampled_from(values.KINDS)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(_KINDS, st.lists(_CELLS, min_size=1, max_size=3)), min_size=1, max_size=5))
def test_rows_from_db_equals_from_db_whatever_the_driver_gives(columns: list[tuple[str, list[Any]]]) -> None:
    """Every kind with every type of value (a subclass, a type the kind never
    has) converts as from_db converts it."""
    names = [f"c{i}" for i in range(len(columns))]
    kinds = [kind for kind, _ in columns]
    depth = min(len(cells) for _, cells in columns)
    raw = [tuple(cells[r] for _, cells in columns) for r in range(depth)]
    expected = [{n: values.from_db(v) for n, v in zip(names, row, strict=True)} for row in raw]
    assert repr(values.rows_from_db(names, kinds, raw)) == repr(expected)


_JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
              st.text(max_size=6)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=3), inner, max_size=3)),
    max_leaves=10,
)


def _slow_loads(text: str | bytes, specials: bool) -> Any:
    """values.loads as it was: json.loads with the hooks given on every call."""
    def reject(name: str) -> Any:
        raise ValueError(f"{name} is not a valid JSON number")
    return json.loads(text, parse_float=Decimal, parse_constant=(lambda n: Decimal(n)) if specials else reject)


def _outcome(load: Any, text: Any, specials: bool) -> str:
    try:
        return repr(load(text, specials))
    except (ValueError, TypeError) as exc:
        return f"{type(exc).__name__}: {exc}"


@settings(max_examples=300, deadline=None)
@given(_JSON, st.sampled_from(["str", "utf-8", "utf-16", "utf-16-be", "utf-32-le", "bytearray"]), st.booleans(),
       st.sampled_from(["", "\ufeff", " ", "x", "{", ',"a":1}']))
def test_loads_equals_json_loads_with_hooks(document: Any, encoding: str, specials: bool, noise: str) -> None:
    text = json.dumps(document, ensure_ascii=False, indent=1 if noise == " " else None)
    text = noise + text if noise in ("\ufeff", " ") else text + noise
    data: Any = text if encoding == "str" else (
        bytearray(text.encode("utf-8")) if encoding == "bytearray" else text.encode(encoding))
    assert _outcome(lambda t, s: values.loads(t, specials=s), data, specials) == _outcome(_slow_loads, data, specials)


@pytest.mark.parametrize("data", [None, 5, ["[]"], memoryview(b"[]"), "", b"", "[1,", '{"a": NaN}', b'"\xff"',
                                  "1" * 5000])
def test_loads_refuses_what_json_loads_refuses(data: Any) -> None:
    for specials in (True, False):
        assert _outcome(lambda t, s: values.loads(t, specials=s), data, specials) == _outcome(_slow_loads, data, specials)


def test_uuid_subclass_and_unknown_types_take_from_db() -> None:
    class _Uid(uuid.UUID):
        pass

    raw = [(_Uid(int=5), _Odd(), dt.datetime(2024, 1, 1, tzinfo=dt.UTC), (1.5, [2.5]))]
    got = values.rows_from_db(["a", "b", "c", "d"], ["uuid", "text", "date", "array"], raw)
    assert got == [{"a": "00000000-0000-0000-0000-000000000005", "b": "odd", "c": "2024-01-01T00:00:00+00:00",
                    "d": [Decimal("1.5"), [Decimal("2.5")]]}]


def test_reads_pause_the_cycle_collector_and_restore_it(pg_url: str, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A large read builds its rows with the collector off (it would walk the
    whole heap every few hundred rows, for nothing) and leaves it as it was:
    on, off, or after a failed read."""
    import contextlib
    import gc

    from configsync.backends import sql
    from configsync.errors import BackendError

    execute(pg_url, "CREATE TABLE many (id integer PRIMARY KEY, doc jsonb, tags text[])")
    execute(pg_url, """INSERT INTO many SELECT i, jsonb_build_object('a', i, 'b', jsonb_build_array(i, 'x')),
                       ARRAY['t', 'u'] FROM generate_series(1, 5000) AS i""")
    backend = open_backend(pg_url, tmp_path)
    collections: list[str] = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collections.append(phase)

    def collections_during_read() -> int:
        table = backend.describe(["many"])["many"]
        spec = ReadSpec(table, ("id", "doc", "tags"), ("id",))
        gc.collect()
        collections.clear()
        gc.callbacks.append(count)
        try:
            assert len(backend.read([spec])["many"]) == 5000
        finally:
            gc.callbacks.remove(count)
        return len(collections)

    try:
        assert gc.isenabled()
        paused = collections_during_read()
        assert gc.isenabled()
        gc.disable()
        collections_during_read()
        assert not gc.isenabled()
        gc.enable()
        # A value the JSON loader refuses (an integer of 5,001 digits) fails the read half way.
        execute(pg_url, "CREATE TABLE bad (id integer PRIMARY KEY, doc jsonb); INSERT INTO bad VALUES (1, '1e5000')")
        table = backend.describe(["bad"])["bad"]
        with pytest.raises((BackendError, ValueError)):
            backend.read([ReadSpec(table, ("id", "doc"), ("id",))])
        assert gc.isenabled()
        monkeypatch.setattr(sql, "collector_paused", contextlib.nullcontext)
        unpaused = collections_during_read()
    finally:
        gc.enable()
        backend.close()
    assert paused <= 2 < 20 < unpaused, (paused, unpaused)
