"""Does a value fit its database column's type? Pure.

``validation.check_columns`` asks this for every value of every record file
before a plan is made, so that a value the column cannot hold (a migration
narrowed bigint to integer, text to varchar(n), numeric to numeric(p, s)) is
refused with its file and line, not by the database in the middle of apply.
Only limits the database enforces with an error are checked: integer ranges,
character lengths and numeric precision. A numeric value with more decimals
than the scale is rounded, not refused, by the database.
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation

from .backends.base import Column
from .values import Value

# Bits of PostgreSQL's integer types, as the catalog (int4) or format_type
# and PostgREST (integer) spell them; any other integer column (SQLite's
# INTEGER, whatever it is declared as) holds 64 bits.
_INT_BITS = {"int2": 16, "smallint": 16, "int4": 32, "integer": 32, "int8": 64, "bigint": 64}
# numeric(p, s) with a negative scale or one above 1000 is shown by the
# catalog as a large unsigned number: its limits are not checked.
_MAX_SCALE = 1000


def problem(column: Column, value: Value) -> str | None:
    """Why ``value`` (already of the column's kind) does not fit the column's
    type, naming the column; None if it fits or the limit is unknown."""
    if column.kind == "array":
        element = Column(column.name, column.element_kind or "other", column.db_type, type_name=column.type_name,
                         max_length=column.max_length, precision=column.precision, scale=column.scale)
        return _in_array(element, value, column.name)
    found = _scalar(column, value)
    return f"{column.name}: {found}" if found else None


def _in_array(element: Column, value: Value, where: str) -> str | None:
    if not isinstance(value, list):
        return None
    for index, item in enumerate(value):
        label = f"{where}.{index}"
        found = _in_array(element, item, label) if isinstance(item, list) else _scalar(element, item)
        if found:
            return found if isinstance(item, list) else f"{label}: {found}"
    return None


def _scalar(column: Column, value: Value) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    if column.kind == "integer" and isinstance(value, (int, Decimal)):
        return _integer(column, value)
    if column.kind == "numeric" and isinstance(value, (int, Decimal)):
        return _numeric(column, Decimal(value))
    if column.kind == "text" and isinstance(value, str) and column.max_length:
        return _text(column, value)
    return None


def _integer(column: Column, value: int | Decimal) -> str | None:
    if isinstance(value, Decimal) and (not value.is_finite() or value != value.to_integral_value()):
        return None  # not an integer: the kind check's business
    bits = _INT_BITS.get(column.type_name, 64)
    low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    if low <= int(value) <= high:
        return None
    return f"{value} is out of range for the column's type {_type(column)} ({low} to {high})"


def _numeric(column: Column, value: Decimal) -> str | None:
    precision, scale = column.precision, column.scale
    if not precision or scale is None or scale > _MAX_SCALE or not value.is_finite():
        return None
    digits = precision - scale  # before the decimal point
    rounded = value
    if value.adjusted() <= digits + 1:
        # The database rounds to the scale first (half away from zero), then checks.
        try:
            rounded = value.quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP,
                                     context=Context(prec=precision + scale + 10))
        except InvalidOperation:
            pass
    if abs(rounded) < Decimal(10) ** digits:
        return None
    shown = str(value) if len(str(value)) <= 40 else str(value)[:37] + "..."
    return (f"{shown} does not fit the column's type {_type(column)}: at most {max(digits, 0)} digits before "
            "the decimal point")


def _text(column: Column, value: str) -> str | None:
    length = column.max_length or 0
    # Longer strings are refused, unless only spaces are beyond the limit
    # (PostgreSQL then cuts them off).
    if len(value) <= length or not value[length:].strip(" "):
        return None
    return f"{len(value)} characters, more than the {length} the column's type {_type(column)} holds"


def _type(column: Column) -> str:
    return column.db_type.removesuffix("[]") or column.type_name
