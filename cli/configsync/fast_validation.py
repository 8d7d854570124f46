"""A fast yes for JSON Schema validation: jsonschema-rs (compiled Rust), trusted
only where it cannot say "valid" to a record python-jsonschema would refuse.

jsonschema gives the messages configsync prints; jsonschema-rs answers "is this
record valid?" a few dozen times faster. A record it calls valid is valid (no
message to print); any other goes through jsonschema, which finds and words
its problems. So the problem lists are jsonschema's, always.

The two differ where configsync's values are not plain JSON, so a schema gets
a fast yes only when it uses keywords whose meaning they share for these
values, and a record only when it holds nothing they read differently:

- a Decimal with an integral value (1.0) is an integer to jsonschema-rs, not
  to jsonschema: records holding one where the schema says "integer" skip the
  fast yes (anywhere in the record, when the schema's integer places cannot be
  named by properties and items alone);
- regular expressions (Rust's and Python's) agree on ASCII text: records with
  other text skip it under a schema with "pattern";
- formats: jsonschema-rs checks every format, jsonschema the ones in its
  format checker; of those, only the formats tested alike are allowed;
- NaN and ±Infinity: jsonschema-rs calls them invalid, so they always take
  the slow path (configsync lets NaN through range keywords);
- $ref only within the file (jsonschema-rs would fetch a remote one; configsync
  never fetches).

tests/test_validation_fast.py holds the two to the same answers on generated
schemas and records.
"""
from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from .values import Value

_rs: Any
try:  # without it (a platform with no wheel) every record takes jsonschema's path
    import jsonschema_rs as _rs
except ImportError:  # pragma: no cover - a dependency, with wheels for the usual platforms
    _rs = None

# Keywords whose subschemas are a mapping of names, a list, or one schema.
_SCHEMA_MAPS = ("properties", "$defs", "definitions", "dependentSchemas")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
_SCHEMA_ONE = ("items", "additionalProperties", "not", "if", "then", "else", "contains", "propertyNames")
# Keywords both validators read alike for str, int, Decimal, bool, None, list and dict values.
_PLAIN_KEYWORDS = frozenset({
    "$schema", "$id", "$comment", "$anchor", "title", "description", "examples", "default", "deprecated",
    "readOnly", "writeOnly", "type", "required", "minItems", "maxItems", "uniqueItems", "minLength",
    "maxLength", "enum", "const", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
    "minProperties", "maxProperties", "dependentRequired", "minContains", "maxContains", "pattern", "format",
    "$ref", *_SCHEMA_MAPS, *_SCHEMA_LISTS, *_SCHEMA_ONE,
})
# Formats jsonschema checks that jsonschema-rs checks at least as strictly (tested);
# a format jsonschema does not check at all can only make jsonschema-rs stricter.
_FORMATS_ALIKE = frozenset({"uuid", "date", "email"})
_DRAFT_2020 = "https://json-schema.org/draft/2020-12/schema"


class _Unsure(Exception):
    pass


def _walk(schema: Any, checked_formats: frozenset[str], found: set[str]) -> None:
    """Raise _Unsure for a keyword the two might read differently; collect the
    features that need a look at the record (``integer``, ``pattern``)."""
    if isinstance(schema, bool):
        return
    if not isinstance(schema, dict):
        raise _Unsure
    for keyword, value in schema.items():
        if keyword not in _PLAIN_KEYWORDS:
            raise _Unsure
        if keyword == "$ref" and not (isinstance(value, str) and value.startswith("#")):
            raise _Unsure  # never fetched, never resolved outside the file
        elif keyword == "$schema" and value != _DRAFT_2020:
            raise _Unsure
        elif keyword == "type" and ("integer" == value or (isinstance(value, list) and "integer" in value)):
            found.add("integer")
        elif keyword == "pattern":
            found.add("pattern")
        elif keyword == "format" and value in checked_formats and value not in _FORMATS_ALIKE:
            raise _Unsure
        elif keyword in ("enum", "const", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            if _has_float(value):
                raise _Unsure  # json.loads makes 0.1 a float: jsonschema compares it with Decimals inexactly
        elif keyword in _SCHEMA_MAPS:
            if not isinstance(value, dict):
                raise _Unsure
            for sub in value.values():
                _walk(sub, checked_formats, found)
        elif keyword in _SCHEMA_LISTS:
            if not isinstance(value, list):
                raise _Unsure
            for sub in value:
                _walk(sub, checked_formats, found)
        elif keyword in _SCHEMA_ONE:
            _walk(value, checked_formats, found)


def _has_float(value: object) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, list):
        return any(_has_float(v) for v in value)
    if isinstance(value, dict):
        return any(_has_float(v) for v in value.values())
    return False


def _read_differently(row: Value, integers: bool, text: bool) -> bool:
    """Does the record hold a value the two validators read differently under
    this schema: an integral Decimal (``integers``), non-ASCII or unprintable
    text (``text``)? One pass, no recursion: it runs for every record."""
    pending = [row]
    while pending:
        value = pending.pop()
        kind = type(value)
        if kind is dict:
            pending.extend(value.values())  # type: ignore[union-attr]
        elif kind is list:
            pending.extend(value)  # type: ignore[arg-type]
        elif kind is str:
            if text and not (value.isascii() and value.isprintable()):  # type: ignore[union-attr]
                return True
        elif kind is Decimal and integers:
            if value.is_finite() and value == value.to_integral_value():  # type: ignore[union-attr]
                return True
    return False


_ITEM = object()  # a path step: any item of a list
_Place = tuple[object, ...]  # property names and _ITEM, from the record's top


def _integer_places(schema: Any, path: _Place, places: set[_Place]) -> None:
    """The places where ``schema`` says "integer", reached through properties,
    items and allOf/anyOf/oneOf only; _Unsure if another keyword leads to one."""
    if not isinstance(schema, dict):
        return
    kind = schema.get("type")
    if kind == "integer" or (isinstance(kind, list) and "integer" in kind):
        places.add(path)
    for keyword, value in schema.items():
        if keyword == "properties":
            for name, sub in value.items():
                _integer_places(sub, (*path, name), places)
        elif keyword in ("allOf", "anyOf", "oneOf"):
            for sub in value:
                _integer_places(sub, path, places)
        elif keyword == "items":
            _integer_places(value, (*path, _ITEM), places)
        elif keyword == "prefixItems":
            for sub in value:
                _integer_places(sub, (*path, _ITEM), places)
        elif keyword in _SCHEMA_MAPS or keyword in _SCHEMA_ONE:
            if "integer" in repr(value):  # $defs behind a $ref, additionalProperties, not, if...
                raise _Unsure


def _integral_at(value: Value, path: _Place, at: int = 0) -> bool:
    """Is there an integral Decimal at ``path`` in ``value``?"""
    # Property names only (the usual case, asked for every record): a loop.
    while at < len(path) and path[at] is not _ITEM:
        if type(value) is not dict:
            return False
        step = path[at]
        if step not in value:
            return False
        value = value[step]
        at += 1
    if at == len(path):
        return type(value) is Decimal and value.is_finite() and value == value.to_integral_value()
    step = path[at]
    if step is _ITEM:
        return type(value) is list and any(_integral_at(item, path, at + 1) for item in value)
    return type(value) is dict and step in value and _integral_at(value[step], path, at + 1)


def fast_yes(schema: object, checked_formats: frozenset[str]) -> Callable[[Value], bool] | None:
    """A function that says True only for a record jsonschema finds valid under
    ``schema`` (False: ask jsonschema); None where no such shortcut is safe."""
    if _rs is None or not isinstance(schema, dict) or schema.get("$schema", _DRAFT_2020) != _DRAFT_2020:
        return None
    found: set[str] = set()
    try:
        _walk(schema, checked_formats, found)
        validator = _rs.Draft202012Validator(schema, validate_formats=True)
    except (_Unsure, ValueError, TypeError, RecursionError):
        return None
    except Exception:  # noqa: BLE001 - jsonschema-rs refusing a schema jsonschema took: no shortcut
        return None
    integers, text = "integer" in found, "pattern" in found
    # Where "integer" sits at places a record can be looked up by, only those
    # places need a look (a jsonb number 1.5 elsewhere may be 3.0 in a row).
    places: set[_Place] | None = None
    if integers:
        places = set()
        try:
            _integer_places(schema, (), places)
        except _Unsure:
            places = None
    coarse = integers and places is None
    is_valid = validator.is_valid

    def check(row: Value) -> bool:
        if (coarse or text) and _read_differently(row, coarse, text):
            return False
        if places and any(_integral_at(row, place) for place in places):
            return False
        try:
            return bool(is_valid(row))
        except Exception:  # noqa: BLE001 - a value jsonschema-rs cannot take: jsonschema decides
            return False

    return check
