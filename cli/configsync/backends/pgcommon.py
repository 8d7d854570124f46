"""What both PostgreSQL backends know about PostgreSQL: the direct one
(psycopg, ``postgres.py``) and Supabase's REST API (``supabase/``).

One table of types and one text-cast rule, so that a table read either way
gives the same values and the same record files; one advisory lock id, so
that applies through either path (and the configsync_apply function, whose
migration is rendered with it) never interleave.
"""
from __future__ import annotations

import zlib

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
