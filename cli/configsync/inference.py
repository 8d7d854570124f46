"""JSON Schemas inferred from a database's column types, or from rows alone. Pure.

Used by `configsync init`, `configsync schema infer` and `configsync schema
check`, and by `init --from-backup` where only the rows of a JSON backup exist.
"""
from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from .backends.base import Column, TableInfo
from .values import INFINITIES, Row, Value

DRAFT = "https://json-schema.org/draft/2020-12/schema"

# Columns the database maintains on every write: in git they would drift on
# every change, so init excludes them unless told otherwise.
MAINTAINED_COLUMNS = ("created_at", "updated_at", "inserted_at", "modified_at")

_INT_RANGES = {
    "int2": 16, "smallint": 16, "int4": 32, "integer": 32, "int": 32, "int8": 64, "bigint": 64,
}
# Names that usually identify a row for people: preferred over a surrogate id.
_NATURAL_KEYS = ("config_key", "key", "name", "slug", "code", "handle")


def column_schema(column: Column, values: Sequence[Value] = ()) -> dict[str, Any]:
    """The schema of one column's values (without nullability)."""
    kind = column.kind
    if kind == "array":
        element = Column("", column.element_kind or "other", "", type_name=column.type_name,
                         choices=column.choices)
        leaves = [v for value in values if isinstance(value, list) for v in _leaves(value)]
        # An element may be NULL; a PostgreSQL array may have several dimensions
        # (declared or not: the database does not enforce them), a nested list per
        # dimension. Up to the deepest of the declared and the seen, any depth is accepted.
        depth = max([column.dimensions or 1, *(_depth(v) for v in values if isinstance(v, list))])
        items = nullable(column_schema(element, leaves))
        for _ in range(depth - 1):
            items = {"anyOf": [items, {"type": "array", "items": items}]}
        return {"type": "array", "items": items}
    schema: dict[str, Any]
    if kind in ("text", "other"):
        schema = {"type": "string"}
        if column.max_length:
            schema["maxLength"] = column.max_length
    elif kind == "uuid":
        schema = {"type": "string", "format": "uuid"}
    elif kind == "integer":
        bits = _INT_RANGES.get(column.type_name.lower(), 64)
        schema = {"type": "integer", "minimum": -(2 ** (bits - 1)), "maximum": 2 ** (bits - 1) - 1}
    elif kind == "numeric":
        schema = {"type": "number"}
        if column.precision:
            bound = 10 ** (column.precision - (column.scale or 0))
            schema.update(exclusiveMinimum=-bound, exclusiveMaximum=bound)
    elif kind == "float":
        schema = {"type": "number"}
    elif kind == "boolean":
        schema = {"type": "boolean"}
    elif kind == "timestamp":
        schema = {"type": "string", "anyOf": [{"format": "date-time"}, _INFINITY]}
    elif kind == "date":
        schema = {"type": "string", "anyOf": [{"format": "date"}, _INFINITY]}
    elif kind == "time":
        schema = {"type": "string", "format": "time"}
    else:  # json
        schema = shape(values)
    if column.choices:
        schema = {"enum": list(column.choices)}
    return schema


# PostgreSQL's infinite timestamps and dates, spelled as it prints them.
_INFINITY = {"enum": list(INFINITIES)}


def _depth(value: Value) -> int:
    """Dimensions of a (PostgreSQL-style, rectangular) nested list."""
    depth = 0
    while isinstance(value, list):
        depth += 1
        value = next((v for v in value if v is not None), None)
    return depth


def _leaves(value: Value) -> list[Value]:
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item)]
    return [value]


def table_schema(
    table: str,
    info: TableInfo,
    key: Sequence[str],
    hidden: Iterable[str] = (),
    rows: Sequence[Row] = (),
) -> dict[str, Any]:
    """A strict schema for one record file of ``table``."""
    hidden = set(hidden)
    properties: dict[str, Any] = {}
    required = []
    for column in info.columns:
        if column.name in hidden or (column.database_owned and column.name not in key):
            continue
        schema = column_schema(column, [r.get(column.name) for r in rows if r.get(column.name) is not None])
        if column.nullable:
            schema = nullable(schema)
        if column.comment:
            schema = {"description": column.comment, **schema}
        properties[column.name] = schema
        # A column the database assigns (default, serial, identity) may be left out.
        if column.name in key or (not column.nullable and not column.database_assigned):
            required.append(column.name)
    return _document(table, properties, required)


def rows_schema(table: str, rows: Sequence[Row]) -> dict[str, Any]:
    """A schema from rows alone (a JSON backup): the types the rows show."""
    if not rows:
        return {**_document(table, {}, []), "additionalProperties": True}
    columns: dict[str, list[Value]] = {}
    for row in rows:
        for name in row:
            columns.setdefault(name, [])
    for row in rows:
        for name in columns:
            columns[name].append(row.get(name))
    properties = {}
    required = []
    for name, seen in columns.items():
        present = [v for v in seen if v is not None]
        schema = shape(present)
        if len(present) == len(rows) and all(name in row for row in rows):
            required.append(name)
        elif schema:
            schema = nullable(schema)
        if present and all(isinstance(v, str) for v in present):
            schema.update(_string_format(present))
        properties[name] = schema
    return _document(table, properties, required)


def _document(table: str, properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "$schema": DRAFT,
        "title": table,
        "description": f"One row of {table}, as a record file under config-snapshots/{table}/.",
        "$comment": "Inferred by configsync; tighten it by hand (enums, patterns, ranges). Checked by `configsync validate`.",
        "type": "object",
        "additionalProperties": False,
        "required": required,
        "properties": properties,
    }


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    if "enum" in schema:
        return {**schema, "enum": [*schema["enum"], None]} if None not in schema["enum"] else schema
    kind = schema.get("type")
    if kind is None:
        return schema  # already anything
    kinds = kind if isinstance(kind, list) else [kind]
    return schema if "null" in kinds else {**schema, "type": [*kinds, "null"]}


def shape(values: Sequence[Value]) -> dict[str, Any]:
    """The shape all of ``values`` share, or {} (anything) when they disagree.
    A null among them (a JSON null inside a document) is allowed beside it."""
    present = [v for v in values if v is not None]
    if not present:
        return {}
    if len(present) < len(values):
        return nullable(shape(present))
    if all(isinstance(v, bool) for v in present):
        return {"type": "boolean"}
    if all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return {"type": "integer"}
    if all(isinstance(v, (int, Decimal)) and not isinstance(v, bool) for v in present):
        return {"type": "number"}
    if all(isinstance(v, str) for v in present):
        return {"type": "string"}
    if all(isinstance(v, list) for v in present):
        items = [item for v in present if isinstance(v, list) for item in v]
        return {"type": "array", "items": shape(items)} if items else {"type": "array"}
    if all(isinstance(v, dict) for v in present):
        dicts = [v for v in present if isinstance(v, dict)]
        keys: dict[str, None] = {}
        for d in dicts:
            keys.update(dict.fromkeys(sorted(d)))
        properties = {k: shape([d[k] for d in dicts if k in d]) for k in keys}
        required = [k for k in keys if all(k in d for d in dicts)]
        return {"type": "object", "properties": properties, "required": required}
    return {}


def _string_format(values: Sequence[Value]) -> dict[str, Any]:
    texts = [str(v) for v in values]
    if all(_is_uuid(t) for t in texts):
        return {"format": "uuid"}
    if all(_is_timestamp(t) for t in texts):
        return {"format": "date-time"}
    return {}


def _is_uuid(text: str) -> bool:
    try:
        return str(uuid.UUID(text)) == text.lower()
    except ValueError:
        return False


def _is_timestamp(text: str) -> bool:
    if not re.match(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}", text):
        return False
    try:
        dt.datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def natural_key(info: TableInfo) -> tuple[str, ...] | None:
    """The key people would name files by: a NOT NULL unique column when the
    primary key is a surrogate (a uuid, or a number the database assigns:
    serial, identity, rowid), readable text first; else the primary key."""
    pk = info.primary_key
    surrogate = len(pk) == 1 and (
        (column := info.column(pk[0])) is not None
        and (column.kind == "uuid" or (column.kind == "integer" and column.database_assigned))
    )
    if surrogate or not pk:
        candidates = []
        for unique in info.unique:
            columns = [info.column(c) for c in unique]
            if all(c is not None and not c.nullable and c.kind in ("text", "integer")
                   and not c.database_assigned for c in columns):
                candidates.append(unique)
        if candidates:
            def order(u: tuple[str, ...]) -> tuple[int, int, int]:
                readable = all(c is not None and c.kind == "text" for c in map(info.column, u))
                return (0 if readable else 1, len(u), _rank(u[0]))
            return min(candidates, key=order)
    return pk or None


def _rank(name: str) -> int:
    return _NATURAL_KEYS.index(name) if name in _NATURAL_KEYS else len(_NATURAL_KEYS)


def key_from_rows(rows: Sequence[Row]) -> tuple[str, ...] | None:
    """For a backup without a database: a column whose values identify each row."""
    if not rows:
        return None
    names = list(dict.fromkeys(name for row in rows for name in row))

    def identifies(name: str, strings_only: bool) -> bool:
        values = [row.get(name) for row in rows]
        scalars = all(isinstance(v, (str, int)) and not isinstance(v, bool) and v != "" for v in values)
        if not scalars or len(set(map(str, values))) != len(values):
            return False
        return not strings_only or all(isinstance(v, str) for v in values)

    for name in sorted(names, key=_rank):
        if _rank(name) < len(_NATURAL_KEYS) and identifies(name, strings_only=True):
            return (name,)
    for name in ("id", *names):
        if name in names and identifies(name, strings_only=False):
            return (name,)
    return None


def differences(table: str, declared: Mapping[str, Any], inferred: Mapping[str, Any],
                hidden: Iterable[str] = ()) -> list[str]:
    """Where a schema file and the database disagree: columns, types, and
    types a migration narrowed (the schema allows values the column cannot
    hold). ``hidden``: excluded and secret columns, which the inferred schema
    leaves out but the database still has."""
    found = []
    hidden = set(hidden)
    have = declared.get("properties", {}) if isinstance(declared.get("properties"), dict) else {}
    want = inferred.get("properties", {})
    for name in want:
        if name not in have and declared.get("additionalProperties") is False:
            found.append(f"{table}.{name}: in the database but not in the schema (added by a migration?)")
    for name in have:
        if name not in want and name not in hidden:
            found.append(f"{table}.{name}: in the schema but not in the database (dropped or renamed?)")
    for name in want:
        if name in have:
            old, new = _types(have[name]), _types(want[name])
            if old and new and old != new:
                found.append(f"{table}.{name}: schema says {_show(old)}, the database holds {_show(new)}")
            else:
                found += [f"{table}.{name}{where}: {wider} (narrowed by a migration?)"
                          for where, wider in _narrowed(have[name], want[name])]
    return found


def _narrowed(declared: Any, column: Any, where: str = "") -> list[tuple[str, str]]:
    """(where, what) the declared schema allows beyond what the database's
    column holds: integer ranges, string lengths, numeric precision; in the
    items of arrays too. A bound only the database has counts for lengths and
    numeric precision (init writes them), not for integer ranges (a schema
    written by hand rarely states them)."""
    if not isinstance(declared, dict) or not isinstance(column, dict) or "enum" in declared or "const" in declared:
        return []
    found = []
    numeric = "number" in _types(column) and "integer" not in _kinds(column)
    for side, word, limit in (("Maximum", "up to", "at most"), ("Minimum", "down to", "at least")):
        db = _bound(column, side)
        if db is None:
            continue
        mine = _bound(declared, side)
        if mine is None:
            if numeric:
                found.append((where, f"the schema allows any number, the database's column holds {limit} "
                                     f"{_show_bound(db)}"))
            continue
        sign = 1 if side == "Maximum" else -1
        if sign * mine[0] > sign * db[0] or (mine[0] == db[0] and db[1] and not mine[1]):
            found.append((where, f"the schema allows {word} {_show_bound(mine)}, the database's column holds "
                                 f"{limit} {_show_bound(db)}"))
    length = column.get("maxLength")
    if isinstance(length, int) and "string" in _kinds(declared):
        mine_length = declared.get("maxLength")
        if not isinstance(mine_length, int):
            found.append((where, f"the schema allows strings of any length, the database's column holds at most "
                                 f"{length} characters"))
        elif mine_length > length:
            found.append((where, f"the schema allows {mine_length} characters, the database's column holds at "
                                 f"most {length}"))
    if "array" in _kinds(declared) and "array" in _kinds(column):
        found += _narrowed(declared.get("items"), column.get("items"), where + "[]")
    return found


def _kinds(schema: Mapping[str, Any]) -> set[str]:
    kind = schema.get("type")
    return {kind} if isinstance(kind, str) else set(kind) if isinstance(kind, list) else set()


def _bound(schema: Mapping[str, Any], side: str) -> tuple[Decimal, bool] | None:
    """A schema's bound on one side as (value, exclusive); the tighter one if it states both."""
    found = []
    for name, exclusive in ((side.lower(), False), (f"exclusive{side}", True)):
        value = schema.get(name)
        if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
            found.append((Decimal(str(value)), exclusive))
    if not found:
        return None
    if side == "Maximum":
        return min(found, key=lambda b: (b[0], not b[1]))
    return max(found, key=lambda b: (b[0], b[1]))


def _show_bound(bound: tuple[Decimal, bool]) -> str:
    value, exclusive = bound
    return f"{value} (exclusive)" if exclusive else str(value)


def _types(schema: Any) -> frozenset[str]:
    if not isinstance(schema, dict):
        return frozenset()
    kind = schema.get("type")
    if kind is None and "enum" in schema:
        return frozenset("null" if v is None else "string" if isinstance(v, str) else "number" for v in schema["enum"])
    kinds = {kind} if isinstance(kind, str) else set(kind or ())
    if "integer" in kinds:
        kinds = (kinds - {"integer"}) | {"number"}  # an integer schema over a numeric column is a choice, not drift
    return frozenset(kinds)


def _show(kinds: frozenset[str]) -> str:
    return " or ".join(sorted(kinds))
