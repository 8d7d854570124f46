"""The value model shared by files, databases and plans.

A cell is ``None``, ``bool``, ``int``, ``Decimal``, ``str``, a list or a
str-keyed dict of those. There is no ``float``: every non-integer number is a
``Decimal`` so that ``numeric`` columns never lose digits, and ``0.70`` read
from the database equals ``0.7`` read from YAML. Timestamps, dates and uuids
travel as ISO-8601 / canonical strings.

Special values (docs/configuration.md, "Record files"): ``Decimal('NaN')``, ``Decimal('Infinity')``
and ``Decimal('-Infinity')`` in float and numeric columns; the strings
``infinity`` / ``-infinity`` in timestamp and date columns; in a json/jsonb
column ``None`` is SQL NULL and JSON null is the one-key mapping
``{"$json": None}`` (see `json_cell`).
"""
from __future__ import annotations

import datetime as dt
import decimal
import json
import re
import secrets
import uuid
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import Any

Value = None | bool | int | Decimal | str | list["Value"] | dict[str, "Value"]
Row = dict[str, Value]

# Column kinds: what a backend's declared type means for reading, writing and
# comparing. Anything unrecognised is "other" and travels as text.
KINDS = (
    "text", "integer", "numeric", "float", "boolean", "json", "array",
    "timestamp", "date", "time", "uuid", "other",
)

_TRAILING_ZEROS = re.compile(r"\.(\d*?)0+(?=[+-]|$)")


def format_timestamp(value: dt.datetime | dt.time) -> str:
    """ISO-8601 the way PostgreSQL's JSON output writes it (UTC, trimmed fraction).

    PostgREST returns exactly this, so a row read over REST and one read over
    psycopg render to the same bytes.
    """
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        value = value.astimezone(dt.UTC)
    text = value.isoformat()
    return _TRAILING_ZEROS.sub(lambda m: "." + m.group(1) if m.group(1) else "", text)


def from_db(value: Any) -> Value:
    """Normalise a value produced by a database driver into the value model."""
    if value is None or isinstance(value, (bool, int, str, Decimal)):
        return value
    if isinstance(value, float):
        # repr() is the shortest text that reads back as the same double
        # ('nan', 'inf' and '-inf' read as Decimal's NaN and ±Infinity).
        return Decimal(repr(value))
    if isinstance(value, (dt.datetime, dt.time)):
        return format_timestamp(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [from_db(v) for v in value]
    if isinstance(value, dict):
        return {str(k): from_db(v) for k, v in value.items()}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "\\x" + bytes(value).hex()
    return str(value)


# ---- many rows at once: from_db specialised per column ------------------------------------
#
# `from_db` asks up to ten isinstance questions of every cell. A table read
# gives the same kind of value in every row of a column, so `rows_from_db`
# decides once per column what to look for and converts by exact type; any
# other type (a subclass, a driver surprise) still goes through `from_db`, so
# the values are always from_db's. tests/test_db_values.py holds the two equal.

#: The exact types from_db returns unchanged.
_AS_IS = frozenset({type(None), bool, int, str, Decimal})
#: ... and in a json column read through a loader that builds the value model
#: itself (PostgreSQL's, `values.loads`): its lists and dicts need no walk.
_AS_IS_JSON = _AS_IS | {dict, list}


def _from_float(value: float) -> Value:
    return Decimal(repr(value))


def _from_list(value: list[Any] | tuple[Any, ...]) -> Value:
    return [v if type(v) in _AS_IS else _convert(v) for v in value]


def _from_dict(value: dict[Any, Any]) -> Value:
    return {str(k): (v if type(v) in _AS_IS else _convert(v)) for k, v in value.items()}


def _from_date(value: dt.date) -> Value:
    return value.isoformat()


def _from_bytes(value: bytes | bytearray | memoryview) -> Value:
    return "\\x" + bytes(value).hex()


# from_db's answer for each exact type it converts.
_CONVERT: dict[type, Any] = {
    float: _from_float, dt.datetime: format_timestamp, dt.time: format_timestamp, dt.date: _from_date,
    uuid.UUID: str, list: _from_list, tuple: _from_list, dict: _from_dict,
    bytes: _from_bytes, bytearray: _from_bytes, memoryview: _from_bytes,
}


def _convert(value: Any) -> Value:
    return _CONVERT.get(type(value), from_db)(value)  # type: ignore[no-any-return]


# What a column of each kind usually holds, as the driver gives it, and its conversion.
_USUAL: dict[str, tuple[type, Any]] = {
    "float": (float, _from_float), "array": (list, _from_list), "date": (dt.date, _from_date),
    "timestamp": (dt.datetime, format_timestamp), "time": (dt.time, format_timestamp), "uuid": (uuid.UUID, str),
}


def rows_from_db(names: Sequence[str], kinds: Sequence[str], raw_rows: Iterable[Sequence[Any]], *,
                 json_parsed: bool = False) -> list[Row]:
    """``[{name: from_db(value)}]`` for rows of a table read with these column
    names and kinds, the same values, a third of the time. ``json_parsed``:
    json columns were read by `loads` (lists and dicts are the value model already)."""
    plain: list[tuple[int, str, frozenset[type]]] = []
    usual: list[tuple[int, str, type, Any]] = []
    for i, (name, kind) in enumerate(zip(names, kinds, strict=True)):
        if kind in _USUAL:
            usual.append((i, name, *_USUAL[kind]))
        else:
            plain.append((i, name, _AS_IS_JSON if kind == "json" and json_parsed else _AS_IS))
    rows: list[Row] = []
    append = rows.append
    for raw in raw_rows:
        row = dict(zip(names, raw, strict=True))
        for i, name, as_is in plain:
            if type(raw[i]) not in as_is:
                row[name] = _convert(raw[i])
        for i, name, expected, convert in usual:
            value = raw[i]
            if type(value) is expected:
                row[name] = convert(value)
            elif type(value) not in _AS_IS:
                row[name] = _convert(value)
        append(row)
    return rows


def loads(text: str | bytes, *, specials: bool = True) -> Value:
    """Parse JSON keeping every number exact.

    ``NaN``, ``Infinity`` and ``-Infinity`` (what `dumps` writes for those
    numbers, as Python's json does) read as Decimals; ``specials=False`` refuses
    them, for JSON documents stored in a database (JSON has no such numbers).

    Exactly ``json.loads(text, parse_float=Decimal, parse_constant=...)``, with
    the decoder made once: json.loads builds a new one per call when given
    hooks, which was half the cost of reading a jsonb cell."""
    if isinstance(text, str):
        if text.startswith("\ufeff"):
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
    elif isinstance(text, (bytes, bytearray)):
        # A document that opens with an ASCII character other than NUL, followed
        # by another non-NUL byte, is what detect_encoding calls UTF-8 (no BOM
        # starts so, nor UTF-16 or -32): a database's JSON text always does.
        utf8 = len(text) > 1 and 0 < text[0] < 0x80 and text[1] != 0
        text = text.decode("utf-8" if utf8 else json.detect_encoding(text), "surrogatepass")
    else:
        raise TypeError(f"the JSON object must be str, bytes or bytearray, not {text.__class__.__name__}")
    result: Value = (_DECODER if specials else _DB_DECODER).decode(text)
    return result


def _special_constant(name: str) -> Value:
    return Decimal(name)


def _reject_constant(name: str) -> Value:
    raise ValueError(f"{name} is not a valid JSON number")


_DECODER = json.JSONDecoder(parse_float=Decimal, parse_constant=_special_constant)
_DB_DECODER = json.JSONDecoder(parse_float=Decimal, parse_constant=_reject_constant)


# -- JSON null is not SQL NULL ---------------------------------------------------------------

#: In a json/jsonb column, ``{"$json": X}`` (one key, top level only) stands for
#: the JSON document X itself: ``{"$json": None}`` is JSON null, whereas None is
#: SQL NULL. A document that is itself such a one-key mapping is wrapped the same
#: way, so every document has exactly one spelling.
JSON_WRAPPER = "$json"


def json_cell(document: Value) -> Value:
    """A JSON document read from a json/jsonb column, as a cell of the value model."""
    if document is None or (isinstance(document, dict) and len(document) == 1 and JSON_WRAPPER in document):
        return {JSON_WRAPPER: document}
    return document


def json_document(cell: Value) -> Value:
    """The JSON document a (non-NULL) json/jsonb cell stands for: `json_cell` undone."""
    if isinstance(cell, dict) and len(cell) == 1 and JSON_WRAPPER in cell:
        return cell[JSON_WRAPPER]
    return cell


def _non_finite(value: Value) -> Decimal | None:
    """The first NaN or ±Infinity anywhere in ``value``."""
    if isinstance(value, Decimal):
        return None if value.is_finite() else value
    if isinstance(value, list):
        for item in value:
            found = _non_finite(item)
            if found is not None:
                return found
    if isinstance(value, dict):
        return _non_finite(list(value.values()))
    return None


def is_nan(value: Value) -> bool:
    return isinstance(value, Decimal) and value.is_nan()


def dumps(value: object, *, indent: int | None = None, sort_keys: bool = False) -> str:
    """Serialise to JSON with decimals written digit for digit.

    The stdlib's C encoder does the work (a plan of 300,000 rows is checksummed
    in a second, not a minute); each Decimal goes through it as a string token
    that is then replaced by its digits. The token holds a per-call nonce, so
    no string in the data can pass for one."""
    numbers: list[str] = []
    nonce = secrets.token_hex(8)

    def token(item: object) -> str:
        if isinstance(item, Decimal):
            numbers.append(format_decimal_json(item))
            return f"\x00{nonce}:{len(numbers) - 1}\x00"
        raise TypeError(f"not a configsync value: {type(item).__name__}")

    text = json.dumps(value, ensure_ascii=False, sort_keys=sort_keys, indent=indent, default=token,
                      allow_nan=False, separators=(",", ": ") if indent is not None else (",", ":"))
    if not numbers:
        return text
    # One compiled pattern for every call (compiling one per call, with the
    # nonce in it, cost more than the encoding); a token of another nonce is
    # data and stays as it is.
    return _TOKEN.sub(lambda m: numbers[int(m.group(2))] if m.group(1) == nonce else m.group(0), text)


_TOKEN = re.compile(r'"\\u0000([0-9a-f]{16}):(\d+)\\u0000"')


def dumps_each(items: Sequence[object], *, sort_keys: bool = False, separators: tuple[str, str] = (",", ":"),
               number: Callable[[Decimal], str] | None = None) -> list[str]:
    """``[dumps(item, sort_keys=sort_keys) for item in items]``, the same texts,
    from one call of the C encoder: per call, ``dumps`` costs more than the
    encoding of a small value (a plan's checksum dumps each of its changes).
    The items are encoded as one list with a marker between them (its own
    nonce, so no string in the data can pass for one), then cut apart.
    ``separators`` and ``number`` (a Decimal's text) change the spelling
    (PostgreSQL's jsonb text: backends/pgtext.py)."""
    if not items:
        return []
    numbers: list[str] = []
    nonce = secrets.token_hex(8)
    marker = f"\x00{nonce}-\x00"
    spell = number or format_decimal_json

    def token(item: object) -> str:
        if isinstance(item, Decimal):
            numbers.append(spell(item))
            return f"\x00{nonce}:{len(numbers) - 1}\x00"
        raise TypeError(f"not a configsync value: {type(item).__name__}")

    spaced: list[object] = [marker] * (2 * len(items) - 1)
    spaced[::2] = items
    text = json.dumps(spaced, ensure_ascii=False, sort_keys=sort_keys, default=token, allow_nan=False,
                      separators=separators)
    if numbers:
        text = _TOKEN.sub(lambda m: numbers[int(m.group(2))] if m.group(1) == nonce else m.group(0), text)
    # The marker's JSON text: json escapes each NUL as \u0000.
    between = separators[0]
    return text[1:-1].split(between + '"\\u0000' + nonce + '-\\u0000"' + between)


# How dumps writes the numbers JSON has none for (as Python's json does; loads reads them).
_JSON_SPECIALS = {"NaN": "NaN", "Infinity": "Infinity", "-Infinity": "-Infinity", "-NaN": "NaN"}
# ... and YAML (1.1 core floats, read back into the same Decimals by yamlio).
_YAML_SPECIALS = {"NaN": ".nan", "Infinity": ".inf", "-Infinity": "-.inf", "-NaN": ".nan"}


def format_decimal_json(value: Decimal) -> str:
    if not value.is_finite():
        return _JSON_SPECIALS[str(value).replace("sNaN", "NaN")]
    text = str(value)
    # Decimal writes 1E+2; JSON wants a mantissa digit before the exponent.
    return text.replace("E", "e") if "E" in text else text


def normalize(value: Decimal) -> Decimal:
    """Trailing zeros stripped, never rounded (the default context keeps 28 digits)."""
    digits = max(1, len(value.as_tuple().digits))
    return value.normalize(decimal.Context(prec=digits))


def format_decimal_yaml(value: Decimal) -> str:
    """Text that YAML 1.1 resolves back to the same number.

    Plain positional notation keeps every digit; the exponent form is only used
    for extreme magnitudes and keeps the dot and signed exponent YAML requires.
    """
    text = str(value)
    if "E" not in text and "e" not in text and value.is_finite() and value.adjusted() <= 24:
        # The common case, without normalize's new Context: str() is positional
        # here, and dropping the fraction's trailing zeros is what normalize does.
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        if text != "-0":  # -0 is the full path's -0.0
            return text
    return _format_decimal_yaml_full(value)


def _format_decimal_yaml_full(value: Decimal) -> str:
    """`format_decimal_yaml` for every Decimal (its fast path must agree: tests/test_yamlio.py)."""
    if not value.is_finite():
        return _YAML_SPECIALS[str(value).replace("sNaN", "NaN")]
    if value.is_zero() and value.is_signed():
        return "-0.0"  # a double's -0 (PostgreSQL float8 keeps it); -0 would read as the integer 0
    # Normalised: 0.70 and 0.7, 100.00 and 100 are the same value and get the
    # same bytes, whichever backend (and column scale) they were read from.
    value = normalize(value)
    if -24 <= value.adjusted() <= 24:
        return format(value, "f")
    mantissa, _, exponent = f"{value:e}".partition("e")
    if "." not in mantissa:
        mantissa += ".0"
    return f"{mantissa}e{exponent}"


def equal(a: Value, b: Value, kind: str = "other") -> bool:
    """Do two values mean the same cell content?

    Numbers compare by value (0.70 == 0.7, 1 == 1.0), booleans never equal
    numbers, timestamps compare as instants, uuids ignore case.
    """
    if kind in ("timestamp", "date", "time") and isinstance(a, str) and isinstance(b, str):
        if a == b:
            return True
        if a in INFINITIES or b in INFINITIES:
            return False
        left, right = _parse_time(a), _parse_time(b)
        return left is not None and left == right
    if kind == "uuid" and isinstance(a, str) and isinstance(b, str):
        return a.lower() == b.lower()
    if kind == "json" and a is not None and b is not None:
        # {$json: 5} written by hand is the document 5, as the database gives it back
        return _equal(json_document(a), json_document(b))
    return _equal(a, b)


def _equal(a: Value, b: Value) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, Decimal)) and isinstance(b, (int, Decimal)):
        # NaN equals NaN here: one cell's content, not arithmetic.
        return a == b or (is_nan(a) and is_nan(b))
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def _parse_time(text: str) -> dt.datetime | dt.date | dt.time | None:
    for parse in (dt.datetime.fromisoformat, dt.date.fromisoformat, dt.time.fromisoformat):
        try:
            parsed: dt.datetime | dt.date | dt.time = parse(text.strip())
        except ValueError:
            continue
        if isinstance(parsed, dt.datetime) and parsed.tzinfo is None:
            return parsed.replace(tzinfo=dt.UTC)
        return parsed
    return None


#: How PostgreSQL writes the infinite timestamps and dates; files use the same words.
INFINITIES = ("infinity", "-infinity")


def _is_iso(kind: str, text: str) -> bool:
    """A date column takes a date only: a timestamp there would lose its time."""
    if kind in ("timestamp", "date") and text in INFINITIES:
        return True
    parse = {"timestamp": dt.datetime.fromisoformat, "date": dt.date.fromisoformat,
             "time": dt.time.fromisoformat}[kind]
    try:
        parse(text.strip())
    except ValueError:
        return False
    return True


def canonical(value: Value) -> Value:
    """A representation where equal values are identical (for hashing)."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            return Decimal("NaN") if value.is_nan() else value
        normal = normalize(value)
        return int(normal) if normal == normal.to_integral_value() else normal
    if isinstance(value, list):
        return [canonical(v) for v in value]
    if isinstance(value, dict):
        return {k: canonical(v) for k, v in value.items()}
    return value


def kind_mismatch(kind: str, value: Value) -> str | None:
    """Why ``value`` cannot go into a column of ``kind``, or None if it can."""
    if kind == "json":
        special = _non_finite(value)
        if special is not None:
            return f"{format_decimal_yaml(special)} is not a JSON number (JSON has no NaN or Infinity)"
        return None
    if value is None or kind == "other":
        return None
    expected = {
        "text": (str,), "uuid": (str,), "timestamp": (str,), "date": (str,), "time": (str,),
        "integer": (int,), "numeric": (int, Decimal), "float": (int, Decimal),
        "boolean": (bool,), "array": (list,),
    }[kind]
    if isinstance(value, bool) and bool not in expected:
        return f"expected {_kind_noun(kind)}, got a boolean"
    if isinstance(value, Decimal) and kind == "integer":
        if value.is_finite() and value == value.to_integral_value():
            return None
        return f"expected an integer, got {value}"
    if not isinstance(value, expected):
        return f"expected {_kind_noun(kind)}, got {_type_noun(value)}"
    if kind == "uuid":
        try:
            uuid.UUID(str(value))
        except ValueError:
            return f"expected a uuid, got {value!r}"
    if kind in ("timestamp", "date", "time") and not _is_iso(kind, str(value)):
        return f"expected an ISO-8601 {kind}, got {value!r}"
    return None


def _kind_noun(kind: str) -> str:
    return {
        "text": "a string", "uuid": "a uuid string", "timestamp": "an ISO-8601 timestamp string",
        "date": "an ISO-8601 date string", "time": "an ISO-8601 time string",
        "integer": "an integer", "numeric": "a number", "float": "a number",
        "boolean": "true or false", "array": "a list",
    }[kind]


def _type_noun(value: Value) -> str:
    if isinstance(value, str):
        return f"a string ({value!r})" if len(value) < 40 else "a string"
    if isinstance(value, Decimal) and not value.is_finite():
        return f"a number ({format_decimal_yaml(value)})"
    if isinstance(value, (int, Decimal)):
        return f"a number ({value})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__
