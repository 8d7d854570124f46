"""Apply converges, or says why it cannot. Pure, no I/O.

Inside its transaction, after the writes, a backend re-reads the rows it wrote
(``specs``) and hands them to ``check``: a managed value the database stored
differently (a trigger, a rounding, a domain or type coercion) raises
NotConvergedError, so the apply is rolled back instead of leaving a plan that
is never empty. The same functions serve SQLite, PostgreSQL and the Supabase
function's answer.

Also here: the json paths a table's ``exclude`` names inside a json column
(``config_value.last_seen``), which are stripped from rows read and kept by apply.
"""
from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from decimal import Decimal

from . import values
from .backends.base import Column, Operation, ReadSpec, WriteBatch
from .errors import NotConvergedError
from .values import Row, Value

Paths = tuple[tuple[str, ...], ...]
#: column -> the paths inside it that are not managed
ColumnPaths = Mapping[str, Paths]

#: At most this many differences are listed in the message.
SHOWN = 10


# ---- json paths that exclude names ------------------------------------------------------------


def strip(row: Row, excluded: ColumnPaths) -> Row:
    """The row without the excluded paths of its json columns (the row itself when none apply)."""
    if not excluded or not any(isinstance(row.get(c), dict) for c in excluded):
        return row
    result = dict(row)
    for column, paths in excluded.items():
        value = result.get(column)
        if isinstance(value, dict):
            value = copy.deepcopy(value)
            for path in paths:
                _delete(value, path)
            result[column] = value
    return result


def _delete(value: dict[str, Value], path: tuple[str, ...]) -> None:
    node: Value = value
    for part in path[:-1]:
        if not isinstance(node, dict):
            return
        node = node.get(part)
    if isinstance(node, dict):
        node.pop(path[-1], None)


def preserve(new: Value, old: Value, paths: Paths) -> Value:
    """``new`` (a file's value of a json column) with the database's values at
    the excluded ``paths`` taken from ``old``, so apply keeps them."""
    if not isinstance(new, dict) or not isinstance(old, dict):
        return new
    result = copy.deepcopy(new)
    for path in paths:
        source: Value = old
        for part in path:
            source = source.get(part) if isinstance(source, dict) else None
            if source is None:
                break
        else:
            node = result
            for part in path[:-1]:
                child = node.setdefault(part, {})
                if not isinstance(child, dict):
                    break
                node = child
            else:
                node[path[-1]] = copy.deepcopy(source)
    return result


def keep_excluded(operations: Sequence[Operation], rows: Mapping[str, list[Row]],
                  excluded: Mapping[str, ColumnPaths]) -> None:
    """Merge the database's values at excluded json paths (``rows``: read
    under the apply's lock, not stripped) into the json columns that updates
    write. Changes the operations' values in place, before they are sent."""
    found = _Rows(rows)
    for op in operations:
        paths = excluded.get(op.table.name)
        if op.action != "update" or not paths or not any(c in op.values for c in paths):
            continue
        current = found.find(op.table.name, op.key)
        if current is None:
            continue
        for column, column_paths in paths.items():
            if column in op.values:
                op.values[column] = preserve(op.values[column], current.get(column), column_paths)


# ---- reading back ----------------------------------------------------------------------------


def specs(batch: WriteBatch) -> list[tuple[ReadSpec, list[Row]]]:
    """What to re-read after the writes: per table, its key and the columns
    apply manages there, and the keys of the rows inserted or updated."""
    tables: dict[str, tuple[ReadSpec, list[Row]]] = {}
    columns: dict[str, set[str]] = {}
    for op in batch.operations:
        if op.action == "delete" or op.expected is None:
            continue
        name = op.table.name
        if name not in tables:
            tables[name] = (ReadSpec(op.table, (), tuple(op.key)), [])
            columns[name] = set(op.key)
        tables[name][1].append(op.key)
        columns[name].update(op.expected)
    result = []
    for name, (spec, keys) in tables.items():
        ordered = tuple(c for c in spec.table.column_names if c in columns[name])
        result.append((ReadSpec(spec.table, ordered, spec.key), keys))
    return result


def check(batch: WriteBatch, rows: Mapping[str, list[Row]], operations: Sequence[Operation] | None = None) -> None:
    """Raise NotConvergedError if a row read back after the writes (``rows``,
    per table, as ``specs`` asked) differs from what apply meant to store;
    ``operations``: only these of the batch's (the others were proven by the
    backend: see backends/pgtext.py)."""
    found = differences(batch, rows, operations)
    if found:
        raise NotConvergedError(message(found))


def message(found: Sequence[str], committed: bool = False) -> str:
    shown = list(found[:SHOWN]) + ([f"... and {len(found) - SHOWN} more"] if len(found) > SHOWN else [])
    tail = ("the changes were committed, and the next plan will show these again"
            if committed else "nothing was changed")
    return ("apply failed: the database stored other values than the files say, so the next plan would "
            f"not be empty; {tail}.\n  " + "\n  ".join(shown))


def differences(batch: WriteBatch, rows: Mapping[str, list[Row]],
                operations: Sequence[Operation] | None = None) -> list[str]:
    """Every managed value of ``operations`` (default: the batch's) that
    ``rows`` do not hold, one line each: table, file, column, both values, the fix."""
    found: list[str] = []
    read = _Rows(rows)
    columns: dict[str, dict[str, Column]] = {}  # per table, by name: asked for every value
    for op in batch.operations if operations is None else operations:
        if op.action == "delete" or op.expected is None:
            continue
        excluded = batch.json_excludes.get(op.table.name, {})
        row = read.find(op.table.name, op.key)
        if row is None:
            found.append(f"{op.table.name} {op.file}: the row is not there after the {op.action} (a trigger or rule "
                         "removed or re-keyed it)")
            continue
        if excluded:
            row = strip(row, excluded)
        wanted = strip(op.expected, excluded) if excluded else op.expected
        named = columns.get(op.table.name)
        if named is None:
            named = columns[op.table.name] = {c.name: c for c in op.table.columns}
        for name, value in wanted.items():
            if name not in row:
                continue
            stored = row[name]
            if _identical(value, stored):
                continue  # values.equal would say so, in any kind of column
            column = named.get(name)
            if not values.equal(value, stored, column.kind if column else "other"):
                found.append(_difference(op, name, value, stored, column.db_type if column else ""))
    return found


def _identical(a: Value, b: Value) -> bool:
    """The same types all the way down and equal leaves: values.equal is then
    true in every kind of column (what it forgives, 1 == 1.0 or a NaN, is
    left to it; a boolean is never taken for a number). Most values read back
    are: this costs a fraction of values.equal."""
    kind = type(a)
    if kind is not type(b):
        return False
    if kind is dict:
        if len(a) != len(b):  # type: ignore[arg-type]
            return False
        for key, value in a.items():  # type: ignore[union-attr]
            if key not in b or not _identical(value, b[key]):  # type: ignore[operator,index]
                return False
        return True
    if kind is list:
        return len(a) == len(b) and all(map(_identical, a, b))  # type: ignore[arg-type]
    return a == b


def _difference(op: Operation, name: str, wrote: Value, stored: Value, db_type: str) -> str:
    table = op.table.name
    head = f"{table} {op.file}: column {name}: the file has {_show(wrote)}, the database stored {_show(stored)}"
    if op.action == "update" and name not in op.values:
        # Not written by this update, changed all the same: a trigger owns it.
        return (f"{head} (this update did not write it: a trigger sets it); if the database owns this column, "
                f"add it to tables.{table}.exclude in configsync.yaml")
    numbers = (int, Decimal)
    if (isinstance(wrote, numbers) and isinstance(stored, numbers)
            and not isinstance(wrote, bool) and not isinstance(stored, bool)):
        typed = f" ({db_type})" if db_type else ""
        return f"{head}: the column{typed} rounds it; write the exact value {_show(stored)} in the file"
    return (f"{head} (a trigger, a domain or a type coercion); write exactly {_show(stored)} in the file, "
            f"or, if the database owns this column, add it to tables.{table}.exclude in configsync.yaml")


def _show(value: Value) -> str:
    if isinstance(value, Decimal):
        return values.format_decimal_yaml(value) if value.is_finite() else str(value)
    text = values.dumps(values.canonical(value)) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


class _Rows:
    """Rows read back, found by key."""

    def __init__(self, rows: Mapping[str, list[Row]]) -> None:
        self.rows = rows
        self.index: dict[tuple[str, tuple[str, ...]], dict[object, Row]] = {}

    def find(self, table: str, key: Row) -> Row | None:
        columns = tuple(key)
        index = self.index.get((table, columns))
        if index is None:
            index = {_key_text(row, columns): row for row in self.rows.get(table) or []}
            self.index[(table, columns)] = index
        return index.get(_key_text(key, columns))


def _key_text(row: Row, columns: tuple[str, ...]) -> object:
    """The key as one hashable value: equal for keys equal as values.canonical
    sees them. Keys of text and whole numbers (nearly all) are the tuple itself;
    others their canonical JSON text, which no such tuple can equal."""
    key = tuple([values.canonical(row.get(c)) for c in columns])
    if all(type(part) is str or type(part) is int for part in key):
        return key
    return values.dumps(list(key))


__all__ = ["check", "differences", "keep_excluded", "message", "preserve", "specs", "strip"]
