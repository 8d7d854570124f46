"""PostgreSQL's text output of a value apply meant to store, predicted.

Apply's read-back (readback.py) loads every row it wrote and compares each
value with the file's. After a restore that is most of the rows of a table;
PostgreSQL can instead send the rows as COPY text, and a row whose line is
exactly the line predicted here holds what the file says: the read-back
skips it. Any other row (a trigger, a default, a rounding, or just a spelling
predicted differently) is loaded and compared as before, so the differences
found and their messages are the same; only the work is less.

The rule every function here keeps: a text is predicted for a value only when
it is a valid PostgreSQL text of that value, one whose loading (the driver's
loader, then values.from_db) gives a value values.equal calls equal to it. A
column's text is PostgreSQL's output function's, which is one-to-one on
stored values: the same text means the same stored value, and the value
loaded from it equals the file's. Where that cannot be said cheaply (float4,
timestamps, infinite or negative-zero numbers, types read through a cast)
there is no prediction (None) and the row is compared the slow way.
(tests/test_readback_text.py holds this against PostgreSQL.)
"""
from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from .. import values
from ..values import Row, Value
from .base import Column

#: A value -> its line field (COPY text, escaped), or None: not predicted.
Predict = Callable[[Value], str | None]

NULL = "\\N"

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# COPY text format: a backslash, the delimiter and line breaks are escaped.
_COPY_SPECIAL = re.compile(r"[\\\t\n\r\x08\x0b\x0c]")
_COPY_ESCAPES = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\x08": "\\b", "\x0b": "\\v", "\x0c": "\\f"}
# An array element that array_out quotes (array_isspace's whitespace, the
# delimiter, braces, quotes, backslash).
_ARRAY_QUOTED = re.compile(r'[{},"\\ \t\n\r\x0b\x0c]')
_ARRAY_ESCAPED = re.compile(r'["\\]')


def copy_field(text: str) -> str:
    """A column's text as a field of a COPY text line (never NULL's \\N: a
    backslash is doubled)."""
    if "\\" not in text and text.isprintable() or _COPY_SPECIAL.search(text) is None:
        return text  # (isprintable: no control character; most texts)
    return _COPY_SPECIAL.sub(lambda m: _COPY_ESCAPES[m.group(0)], text)


def predictor(column: Column) -> Predict:
    """How to predict the text of ``column``'s values (of a json column: see
    json_texts). SQL NULL alone where its other values are never predicted
    (timestamps, float4, char(n), types read through a cast, ...)."""
    kind = column.kind
    if kind == "integer":
        return _integer
    if kind == "text" and column.type_name in ("text", "varchar"):
        return _text
    if kind == "boolean":
        return _boolean
    if kind == "numeric":
        scale = column.scale
        return _numeric if scale is None else _scaled(scale)
    if kind == "float" and column.type_name == "float8":
        return _float8
    if kind == "date":
        return _date
    if kind == "uuid":
        return _uuid
    if kind == "array" and (column.dimensions or 1) == 1:
        if column.element_kind == "text" and column.type_name in ("text", "varchar"):
            return _text_array
        if column.element_kind == "integer":
            return _integer_array
    return _null_only


def _printable_decimal(value: Value) -> bool:
    """A Decimal numeric_out prints as format(value, "f") does (not NaN or
    infinite; not -0, which prints as 0)."""
    return type(value) is Decimal and value.is_finite() and not (value.is_zero() and value.is_signed())


def _null_only(value: Value) -> str | None:
    return NULL if value is None else None


def _integer(value: Value) -> str | None:
    if value is None:
        return NULL
    return str(value) if type(value) is int else None


def _text(value: Value) -> str | None:
    if value is None:
        return NULL
    return copy_field(value) if type(value) is str else None


def _boolean(value: Value) -> str | None:
    if value is None:
        return NULL
    return ("t" if value else "f") if type(value) is bool else None


def _numeric(value: Value) -> str | None:
    if value is None:
        return NULL
    if type(value) is int:
        return str(value)
    if _printable_decimal(value):
        return format(value, "f")  # numeric keeps the scale it is given: 1.50 stays 1.50, 1E+2 is 100
    return None


def _scaled(scale: int) -> Predict:
    """numeric(p, s) prints every value with s decimals; a value with more
    (which the column rounds: the read-back says so) is not predicted."""

    def predict(value: Value) -> str | None:
        text = _numeric(value)
        if text is None or value is None:
            return text
        point = text.find(".")
        if point < 0:
            return text + "." + "0" * scale if scale else text
        decimals = len(text) - point - 1
        if decimals > scale:
            return None
        return text + "0" * (scale - decimals)

    return predict


def _float8(value: Value) -> str | None:
    """float8out (shortest exact digits); only a number that a double holds
    exactly as the file writes it (else the read-back reports the rounding)."""
    if value is None:
        return NULL
    if type(value) is int:
        if -_EXACT < value < _EXACT:
            return str(value)  # a double holds it, and float8out prints it positionally
        return None
    if type(value) is not Decimal or not value.is_finite():
        return None
    try:
        double = float(value)
    except OverflowError:
        return None
    shortest = repr(double)
    if shortest != str(value) and ("n" in shortest or Decimal(shortest) != value):
        return None  # inf, or the double is not the file's number: the read-back reports it
    if "e" in shortest:
        return shortest  # both write 1e-05 and 1.5e+16: below 1e-4 and from 1e16
    if not -_EXACT < double < _EXACT:
        return None  # from 1e15 float8out writes 1e+15, repr 1000000000000000.0: not predicted
    return shortest[:-2] if shortest.endswith(".0") else shortest


#: Whole numbers below this (1e15) print positionally in both, and a double holds them.
_EXACT = 10**15


def _date(value: Value) -> str | None:
    if value is None:
        return NULL
    return value if type(value) is str and _DATE.fullmatch(value) else None


def _uuid(value: Value) -> str | None:
    if value is None:
        return NULL
    return value if type(value) is str and _UUID.fullmatch(value) else None


def _array_element(text: str) -> str:
    if text and text.upper() != "NULL" and _ARRAY_QUOTED.search(text) is None:
        return text
    return '"' + _ARRAY_ESCAPED.sub(lambda m: "\\" + m.group(0), text) + '"'


def _text_array(value: Value) -> str | None:
    if value is None:
        return NULL
    if type(value) is not list:
        return None
    try:
        joined = "\x00".join(value)  # type: ignore[arg-type]
    except TypeError:  # not all strings
        joined = None
    if joined is not None:
        # Mostly no element needs quoting: one look at all of them (an empty
        # one, NULL in any case, a character array_out quotes).
        if ("" in value or _ARRAY_QUOTED.search(joined) is not None
                or "\x00NULL\x00" in "\x00" + joined.upper() + "\x00"):
            return copy_field("{" + ",".join(map(_array_element, value)) + "}")  # type: ignore[arg-type]
        return copy_field("{" + ",".join(value) + "}")  # type: ignore[arg-type]
    text = _elements(value, lambda item: _array_element(item) if type(item) is str else None)
    return None if text is None else copy_field(text)


def _integer_array(value: Value) -> str | None:
    if value is None:
        return NULL
    if type(value) is not list:
        return None
    return _elements(value, lambda item: str(item) if type(item) is int else None)


def _elements(items: list[Value], element: Callable[[Value], str | None]) -> str | None:
    """array_out's text of ``items`` (NULL for None, ``element`` for the
    others); None where ``element`` predicts no text for one."""
    parts = []
    for item in items:
        text = "NULL" if item is None else element(item)
        if text is None:
            return None
        parts.append(text)
    return "{" + ",".join(parts) + "}"


def lines(columns: Sequence[Column], rows: Sequence[Row]) -> list[str | None]:
    """Each row's COPY text line of ``columns`` (None: a value not predicted,
    or a column the row does not have)."""
    return [None if None in fields else "\t".join(fields)
            for fields in zip(*texts(columns, rows), strict=True)]


def texts(columns: Sequence[Column], rows: Sequence[Row]) -> list[list[str | None]]:
    """Per column, the COPY field of each row's value (escaped; NULL for SQL
    NULL; None: not predicted, or the row has no such column)."""
    result = []
    for column in columns:
        name = column.name
        cells = [row.get(name, _ABSENT) for row in rows]
        if column.kind == "json":
            present = [c for c in cells if c is not _ABSENT]
            found = iter(json_texts(column, present) if present else [])
            result.append([None if c is _ABSENT else next(found) for c in cells])
        else:
            predict = predictor(column)
            result.append([None if c is _ABSENT else predict(c) for c in cells])
    return result


_ABSENT: Any = object()


# ---- json and jsonb: many documents at once -------------------------------------------------


def json_texts(column: Column, cells: Sequence[Value]) -> list[str | None]:
    """The COPY fields of a json or jsonb column's ``cells`` (None: one not
    predicted). json prints the text
    apply wrote (values.dumps); jsonb its own: keys ordered by length then
    bytes, ", " and ": " between, numbers as numeric prints them."""
    if column.type_name == "json":
        documents = [values.json_document(c) for c in cells if c is not None]
        texts = iter(values.dumps_each(documents))
        return [NULL if c is None else copy_field(next(texts)) for c in cells]
    if column.type_name != "jsonb":
        return [NULL if c is None else None for c in cells]
    ordered = [None if c is None else _jsonb_document(values.json_document(c)) for c in cells]
    known = [d for c, d in zip(cells, ordered, strict=True) if c is not None and d is not _UNPREDICTABLE]
    texts = iter(values.dumps_each(known, separators=(", ", ": "), number=_numeric_text))
    return [NULL if c is None else None if d is _UNPREDICTABLE else copy_field(next(texts))
            for c, d in zip(cells, ordered, strict=True)]


def _numeric_text(number: Decimal) -> str:
    return format(number, "f")  # numeric_out: positional, the scale kept (1.50; 1E+2 is 100)


_UNPREDICTABLE: Any = object()  # a document whose text is not predicted


class _Unpredictable(Exception):
    pass


def _jsonb_document(document: Value) -> Value:
    try:
        ordered: Value = _jsonb_ordered(document)
    except _Unpredictable:
        return _UNPREDICTABLE  # type: ignore[no-any-return]
    return ordered


def _jsonb_ordered(value: Any) -> Any:
    """The document with its objects' keys in jsonb's order (shorter first,
    then by bytes: UTF-8 keeps the order of code points). Raises
    _Unpredictable for a number jsonb prints otherwise (-0 prints as 0)."""
    kind = type(value)
    if kind is dict:
        keys = tuple(value)
        order = _ORDERS.get(keys)
        if order is None:
            order = tuple(sorted(keys, key=_jsonb_key))
            if len(_ORDERS) < _ORDERS_KEPT:  # documents mostly share a few sets of keys
                _ORDERS[keys] = order
        ordered = {}
        for key in order:
            item = value[key]
            plain = type(item)
            ordered[key] = item if plain in _PLAIN else _jsonb_ordered(item)
        return ordered
    if kind is list:
        return [v if type(v) in _PLAIN else _jsonb_ordered(v) for v in value]
    if kind in _PLAIN:
        return value
    if _printable_decimal(value):
        return value
    raise _Unpredictable


_PLAIN = frozenset({str, int, bool, type(None)})  # printed by json as jsonb prints them
_ORDERS: dict[tuple[str, ...], tuple[str, ...]] = {}
_ORDERS_KEPT = 10_000


def _jsonb_key(key: str) -> tuple[int, str]:
    return (len(key) if key.isascii() else len(key.encode("utf-8", "surrogatepass")), key)


__all__ = ["NULL", "Predict", "copy_field", "json_texts", "lines", "predictor", "texts"]
