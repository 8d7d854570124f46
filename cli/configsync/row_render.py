"""Record files of many rows of one table, rendered fast: what
``records.render`` gives for each row, byte for byte.

A full snapshot renders every row of a table with the same header, the same
column order and mostly the same short strings (enum-like values, dates,
labels). ``TableRenderer`` works those out once per table, and ``direct``
is ``yamlio._dump_direct`` with the scalars of the exact types rows are made
of written inline and the text of repeated strings remembered.
tests/test_row_render.py holds both to the same bytes.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from . import yamlio
from .config import Config
from .records import header as record_header
from .records import render
from .values import Value, format_decimal_yaml

_STRINGS_REMEMBERED = 1 << 16  # texts of strings kept per process: values repeat, unique ones stop being kept
_DIGITS = yamlio._DIGITS
_LEAVES = yamlio._LEAVES
_NotFast = yamlio._NotFast
_key = yamlio._key
_scalar_text = yamlio._scalar_text

# str -> the text `_scalar_text` gives it (a plain scalar, or single-quoted).
# Keyed by exact str only: 1, True and Decimal(1) are equal keys, and get other texts.
_texts: dict[str, str] = {}


def _string(value: str) -> str:
    text = _texts.get(value)
    if text is None:
        text = _scalar_text(value)  # _NotFast for text the direct writer leaves to PyYAML
        if len(_texts) < _STRINGS_REMEMBERED:
            _texts[value] = text
    return text


def _leaf(value: Value) -> str:
    """``_scalar_text(value)``, the common exact types first."""
    kind = type(value)
    if kind is str:
        return _string(value)  # type: ignore[arg-type]
    if kind is int:
        return int.__repr__(value)
    if kind is Decimal:
        text = format_decimal_yaml(value)  # type: ignore[arg-type]
        if text[0] in _DIGITS and "e" not in text:
            return text
    return _scalar_text(value)


def _emit(value: Any, indent: str, lines: list[str], prefix: str) -> None:
    """``yamlio._emit``: the same lines, for the same values (a ``Value``: its type is
    looked at here, as mypy cannot narrow by ``type(x) is``)."""
    append = lines.append
    kind = type(value)
    if kind is dict and value:
        head = prefix
        deeper = indent + "  "
        for key in sorted(value):
            head += _key(key) + ":"
            item = value[key]
            sub = type(item)
            if sub is str:
                append(head + " " + _string(item))
            elif sub is dict and item:
                append(head)
                _emit(item, deeper, lines, deeper)
            elif sub is list and item:
                append(head)
                _emit(item, indent, lines, indent)
            elif sub is dict or sub is list or sub in _LEAVES:
                append(head + " " + _leaf(item))
            else:
                raise _Unusual
            head = indent
    elif kind is list and value:
        head = prefix + "- "
        deeper = indent + "  "
        for item in value:
            sub = type(item)
            if sub is str:
                append(head + _string(item))
            elif (sub is dict or sub is list) and item:
                _emit(item, deeper, lines, head)
            elif sub is dict or sub is list or sub in _LEAVES:
                append(head + _leaf(item))
            else:
                raise _Unusual
            head = indent + "- "
    else:
        raise _Unusual


class _Unusual(Exception):
    """A value of a type rows are not made of (a subclass of dict or list, a
    float): ``yamlio._dump_direct`` decides, as it always did."""


def direct(mapping: dict[str, Value]) -> str | None:
    """``yamlio._dump_direct(mapping)``, the same text or None."""
    if not mapping:
        return None
    lines: list[str] = []
    append = lines.append
    try:
        for key, value in mapping.items():
            head = _key(key) + ":"
            kind = type(value)
            if kind is str:
                append(head + " " + _string(value))  # type: ignore[arg-type]
            elif kind is dict and value:
                append(head)
                _emit(value, "  ", lines, "  ")
            elif kind is list and value:
                append(head)
                _emit(value, "", lines, "")
            elif kind is dict or kind is list or kind in _LEAVES:
                append(head + " " + _leaf(value))
            else:
                raise _Unusual
    except _NotFast:
        return None
    except _Unusual:
        return yamlio._dump_direct(mapping)
    append("")
    return "\n".join(lines)


class TableRenderer:
    """``records.render(config, table, row, column_order)`` for many rows of one table."""

    __slots__ = ("_config", "_table", "_columns", "_header", "_in_order")

    def __init__(self, config: Config, table: str, column_order: Iterable[str]) -> None:
        self._config = config
        self._table = table
        self._columns = list(column_order)
        self._header = record_header(config, table)
        # The columns of a row (in its order) -> whether render's order is that order.
        self._in_order: dict[tuple[str, ...], bool] = {}

    def __call__(self, row: Mapping[str, Value]) -> bytes:
        if type(row) is dict:
            columns = tuple(row)
            in_order = self._in_order.get(columns)
            if in_order is None:
                wanted = [c for c in self._columns if c in row]
                wanted += [c for c in row if c not in wanted]
                in_order = self._in_order[columns] = wanted == list(columns)
            if in_order:
                text = direct(row)
                if text is not None:
                    return (self._header + text).encode("utf-8")
        return render(self._config, self._table, row, self._columns)


__all__ = ["TableRenderer", "direct"]
