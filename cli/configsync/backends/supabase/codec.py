"""configsync values to and from PostgREST: JSON bodies, select and filter syntax.

A value read here is the value the PostgreSQL backend reads for the same row
(UTC timestamps, the same text casts), so both write the same record files.
"""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from ... import values
from ...errors import BackendError
from ...values import Row, Value
from ..base import Column, TableInfo
from ..pgcommon import text_cast

_SIMPLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def split(table: str) -> tuple[str, str]:
    """(schema, table) for a configured name; unqualified means public."""
    schema, _, name = table.rpartition(".")
    return schema or "public", name


def ident(name: str) -> str:
    """A column name inside PostgREST's select/order syntax."""
    if _SIMPLE_NAME.match(name):
        return name
    if '"' in name:
        raise BackendError(f"column {name!r}: names containing a double quote cannot be read over the REST API")
    return f'"{name}"'


def quoted(text: str) -> str:
    """A value inside PostgREST's logic-tree syntax (or=(...))."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def filter_text(table: str, column: str, value: Value) -> str:
    """A key value as the text of a filter (``eq.<text>``)."""
    if value is None:
        raise BackendError(f"table {table}: key column {column} is NULL in a row; a configsync key must never be NULL")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, Decimal, str)):
        return str(value)
    raise BackendError(f"table {table}: key column {column} holds a {type(value).__name__}; "
                       "over the REST API a key must be text, a number, a uuid or a timestamp")


def parse_pg_array(text: str) -> Value:
    """A PostgreSQL array literal (``{a,"b c",NULL}``) as a list of strings.

    The same elements the PostgreSQL backend gets from ``column::text[]``.
    """
    if text.startswith("["):  # explicit bounds: [0:1]={...}
        text = text[text.index("=") + 1:]
    pos = 0

    def parse() -> list[Value]:
        nonlocal pos
        if text[pos] != "{":
            raise ValueError("expected {")
        pos += 1
        items: list[Value] = []
        if text[pos] == "}":
            pos += 1
            return items
        while True:
            char = text[pos]
            if char == "{":
                items.append(parse())
            elif char == '"':
                pos += 1
                chunk = []
                while text[pos] != '"':
                    if text[pos] == "\\":
                        pos += 1
                    chunk.append(text[pos])
                    pos += 1
                pos += 1
                items.append("".join(chunk))
            else:
                start = pos
                while text[pos] not in ",}":
                    pos += 1
                raw = text[start:pos]
                items.append(None if raw == "NULL" else raw)
            if text[pos] == ",":
                pos += 1
            elif text[pos] == "}":
                pos += 1
                return items
            else:
                raise ValueError(f"unexpected {text[pos]!r}")

    result = parse()
    if pos != len(text):
        raise ValueError("trailing text")
    return result


def select_expr(column: Column) -> str:
    """A column in a select: cast to text where the PostgreSQL backend casts
    (a text[] arrives as its array literal, parsed by ``from_rest``), and a JSON
    column as its text too: in PostgREST's JSON, JSON null and SQL NULL are both null."""
    return ident(column.name) + ("::text" if text_cast(column) or column.kind == "json" else "")


# How PostgreSQL's JSON output writes the numbers JSON has none for.
_SPECIAL_NUMBERS = {"NaN": Decimal("NaN"), "Infinity": Decimal("Infinity"), "-Infinity": Decimal("-Infinity")}


def from_rest(column: Column, value: Value) -> Value:
    """A value from PostgREST's JSON, as the PostgreSQL backend would have read it."""
    if value is None:
        return None
    if column.kind == "json" and isinstance(value, str):
        try:
            return values.json_cell(values.loads(value, specials=False))
        except ValueError:
            return value
    if column.kind in ("numeric", "float") and isinstance(value, str) and value in _SPECIAL_NUMBERS:
        return _SPECIAL_NUMBERS[value]
    if column.kind == "array" and column.element_kind in ("numeric", "float") and isinstance(value, list):
        return _special_numbers_from_text(value)
    if column.kind == "timestamp" and isinstance(value, str):
        try:
            return values.format_timestamp(dt.datetime.fromisoformat(value))
        except ValueError:
            return value
    if text_cast(column) == "text[]" and isinstance(value, str):
        try:
            return parse_pg_array(value)
        except (ValueError, IndexError):
            return value
    return value


def to_rest(table: TableInfo, row: Row) -> Row:
    """Values to send: integral decimals become integers for integer columns,
    NaN and ±Infinity the strings PostgreSQL reads them from (JSON has no such
    numbers), a JSON column's cell the document it stands for."""
    result: Row = {}
    for name, value in row.items():
        column = table.column(name)
        if column is not None and column.kind == "integer" and isinstance(value, Decimal):
            value = int(value)
        elif column is not None and column.kind == "json" and value is not None:
            value = values.json_document(value)
            if value is None:
                raise BackendError(
                    f"table {table.name}: column {name}: a JSON null (not SQL NULL) cannot be written over the "
                    "REST API (PostgREST stores SQL NULL); apply it with the database connection string")
        result[name] = _special_numbers_as_text(value)
    return result


def expected_rows(table: TableInfo, rows: list[Row]) -> list[Value]:
    """Rows as configsync read them, in the form the configsync_apply function
    compares them with (to_jsonb of the row): JSON columns as the documents,
    NaN and ±Infinity as PostgreSQL's JSON writes them."""
    result: list[Value] = []
    for row in rows:
        converted: dict[str, Value] = {}
        for name, value in row.items():
            column = table.column(name)
            if column is not None and column.kind == "json" and value is not None:
                value = values.json_document(value)
            converted[name] = _special_numbers_as_text(value)
        result.append(converted)
    return result


def _special_numbers_from_text(value: Value) -> Value:
    if isinstance(value, str):
        return _SPECIAL_NUMBERS.get(value, value)
    if isinstance(value, list):
        return [_special_numbers_from_text(v) for v in value]
    return value


def _special_numbers_as_text(value: Value) -> Value:
    if isinstance(value, Decimal) and not value.is_finite():
        return "NaN" if value.is_nan() else str(value)
    if isinstance(value, list):
        return [_special_numbers_as_text(v) for v in value]
    return value
