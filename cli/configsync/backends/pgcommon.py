"""What both PostgreSQL backends know about PostgreSQL: the direct one
(psycopg, ``postgres.py``) and Supabase's REST API (``supabase/``).

One table of types and one text-cast rule, so that a table read either way
gives the same values and the same record files; one advisory lock id, so
that applies through either path (and the configsync_apply function, whose
migration is rendered with it) never interleave.
"""
from __future__ import annotations

import re
import zlib
from collections.abc import Iterable, Sequence
from typing import Any

from .base import Column

# The advisory lock every configsync apply takes, whatever the tables:
# applies to one database never interleave.
LOCK_ID = zlib.crc32(b"configsync apply")

# (pg_type.typname, the name format_type() prints for it, the value kind).
# psycopg's catalog queries give the first; PostgREST's OpenAPI `format`, the second.
_TYPES = (
    ("bool", "boolean", "boolean"),
    ("int2", "smallint", "integer"),
    ("int4", "integer", "integer"),
    ("int8", "bigint", "integer"),
    ("numeric", "numeric", "numeric"),
    ("float4", "real", "float"),
    ("float8", "double precision", "float"),
    ("json", "json", "json"),
    ("jsonb", "jsonb", "json"),
    ("timestamptz", "timestamp with time zone", "timestamp"),
    ("timestamp", "timestamp without time zone", "timestamp"),
    ("date", "date", "date"),
    ("uuid", "uuid", "uuid"),
    ("text", "text", "text"),
    ("varchar", "character varying", "text"),
    ("bpchar", "character", "text"),
    ("name", "name", "text"),
    ("citext", "citext", "text"),
)
_BY_TYPNAME = {typname: kind for typname, _, kind in _TYPES}
_BY_FORMATTED = {formatted: kind for _, formatted, kind in _TYPES}

# Arrays of these are read as text[] (each element as PostgreSQL prints it),
# by both backends alike.
_TEXT_ARRAY_ELEMENTS = ("other", "timestamp", "date", "uuid")


def kind_of_typname(typname: str) -> str:
    """The value kind of a type by its catalog name (``int4``); ``other`` if unknown."""
    return _BY_TYPNAME.get(typname, "other")


def kind_of_formatted(name: str) -> str:
    """The value kind of a type by the name format_type() prints (``integer``)."""
    return _BY_FORMATTED.get(name, "other")


def text_cast(column: Column) -> str | None:
    """The cast a column is read with (``text`` or ``text[]``), if any: values
    configsync has no kind for are kept as PostgreSQL prints them."""
    if column.kind == "other":
        # inet's cast to text always adds the netmask (10.0.0.1/32); its output
        # function, which PostgREST's JSON and to_jsonb use, does not. The
        # PostgreSQL backend reads it as that output (``abbrev``), uncast.
        return None if column.type_name == "inet" else "text"
    if column.kind == "array" and column.element_kind in _TEXT_ARRAY_ELEMENTS:
        return "text[]"
    return None


# CHECK (col IN ('a', 'b')) as PostgreSQL prints it back:
# CHECK ((col = ANY (ARRAY['a'::text, 'b'::text])))
_CHECK_IN = re.compile(r"""^CHECK \(\(?"?([A-Za-z_][A-Za-z0-9_]*)"?(?:\)?::text)? = ANY \(\(?ARRAY\[(.*)\]""")
_LITERAL = re.compile(r"'((?:[^']|'')*)'")


def choices_from_checks(definitions: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """Column -> allowed values, from CHECK constraints of the `col IN (...)` form."""
    found = {}
    for definition in definitions:
        match = _CHECK_IN.match(definition)
        if match:
            found[match.group(1)] = tuple(v.replace("''", "'") for v in _LITERAL.findall(match.group(2)))
    return found


def catalog_column(
    name: str, db_type: str, typname: str, elem: str, notnull: bool, hasdef: bool, typmod: int,
    labels: Sequence[str] | None, comment: str | None, dims: int | None,
    checks: dict[str, tuple[str, ...]], generated: str | None = None, identity: str | None = None,
    sequence: str | None = None,
) -> Column:
    """A column from what PostgreSQL's catalog says of it (pg_attribute, its
    base type, pg_enum, CHECKs): the one reading of the catalog both the
    direct backend and the REST one (through configsync_describe) share, so a
    table described either way is the same ``TableInfo``."""
    kind = "array" if elem else kind_of_typname(typname)
    element = kind_of_typname(elem) if elem else None
    base = elem or typname
    length = typmod - 4 if base in ("varchar", "bpchar") and typmod > 4 else None
    precision = (typmod - 4) >> 16 if base == "numeric" and typmod > 4 else None
    scale = (typmod - 4) & 0xFFFF if precision is not None else None
    return Column(
        name, kind, db_type, not notnull, hasdef, element, base, length, precision,
        scale, tuple(labels) if labels else checks.get(name), comment,
        dimensions=dims or None, **ownership(generated, identity, sequence),
    )


def ownership(generated: str | None, identity: str | None, sequence: str | None) -> dict[str, Any]:
    """Who owns a column, from pg_attribute: generated ('s' stored, 'v'
    virtual), identity ('a' always, 'd' by default), and the sequence behind a
    serial or identity column (``Column``'s fields of those names)."""
    return {"generated": bool(generated and generated.strip()),
            "identity": {"a": "always", "d": "by default"}.get((identity or "").strip()),
            "sequence": sequence}
