"""Record keys <-> file names.

A key becomes a file name by filling the table's ``filename`` template and
percent-encoding every character that is not safe on every platform, so the
mapping is reversible and no key can escape its directory, hide a file, or
name a Windows device. Names that would still collide (case-only differences
on macOS/Windows) or grow too long are refused.
"""
from __future__ import annotations

import functools
import re
import string
from collections.abc import Mapping, Sequence
from decimal import Decimal

from .errors import NamingError as NamingError
from .values import Value

EXTENSION = ".yaml"
MAX_NAME_BYTES = 200
_SAFE = frozenset(string.ascii_letters + string.digits + "-_.+=@,~")
# Text of _SAFE characters only: most keys, kept as they are without a look at each character.
_ALL_SAFE = re.compile(r"[A-Za-z0-9_.+=@,~-]*").fullmatch
_WINDOWS_RESERVED = frozenset(
    ["CON", "PRN", "AUX", "NUL"] + [f"COM{i}" for i in range(1, 10)] + [f"LPT{i}" for i in range(1, 10)]
)


def default_template(key_columns: Sequence[str]) -> str:
    return "__".join("{" + column + "}" for column in key_columns)


def template_fields(template: str) -> list[str]:
    """The column names a ``filename`` template refers to."""
    return list(_template_fields(template))


@functools.lru_cache(maxsize=256)  # asked once per record file: parse each template once
def _template_fields(template: str) -> tuple[str, ...]:
    fields = []
    for _, field, spec, conversion in string.Formatter().parse(template):
        if field is None:
            continue
        if not field or spec or conversion or not field.isidentifier():
            raise NamingError(f"filename template {template!r}: use plain {{column}} fields only")
        fields.append(field)
    return tuple(fields)


@functools.lru_cache(maxsize=256)
def _one_field(template: str) -> bool:
    fields = _template_fields(template)
    return len(fields) == 1 and template == "{" + fields[0] + "}"


def encode(text: str) -> str:
    encoded = text if _ALL_SAFE(text) else "".join(c if c in _SAFE else _percent(c) for c in text)
    if encoded.startswith("."):
        encoded = "%2E" + encoded[1:]
    if encoded.endswith("."):
        encoded = encoded[:-1] + "%2E"
    base = encoded.split(".", 1)[0]
    if base.upper() in _WINDOWS_RESERVED:
        encoded = base[:-1] + _percent(base[-1]) + encoded[len(base):]
    return encoded


def _percent(char: str) -> str:
    return "".join(f"%{b:02X}" for b in char.encode("utf-8"))


def key_text(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, Decimal)):
        return str(value)
    raise NamingError(f"key value {value!r} is not a string or number")


# The longest name a key's text gives as it is (every character safe, one byte each).
_SHORT = MAX_NAME_BYTES - len(EXTENSION)


def file_name(template: str, key: Mapping[str, Value]) -> str:
    """The file name (with extension) for a record with this key."""
    if _one_field(template):
        # The usual key: an integer, or text of safe characters. Its text is the
        # name (asked for every record file a cold validate reads); any other
        # takes the full rule (tests/test_naming.py holds the two equal).
        value = key.get(_template_fields(template)[0])
        if isinstance(value, str):
            if 0 < len(value) <= _SHORT and _ALL_SAFE(value) and value[0] != "." != value[-1] \
                    and value.split(".", 1)[0].upper() not in _WINDOWS_RESERVED:
                return value + EXTENSION
        elif isinstance(value, int) and not isinstance(value, bool):
            text = str(value)
            if len(text) <= _SHORT:
                return text + EXTENSION
    return _file_name(template, key)


def _file_name(template: str, key: Mapping[str, Value]) -> str:
    """`file_name` by the full rule, for any key and template."""
    fields = _template_fields(template)
    parts: dict[str, str] = {}
    for column in fields:
        value = key.get(column)
        if value is None or value == "":
            raise NamingError(f"key column {column!r} is empty")
        parts[column] = encode(key_text(value))
    # The usual template is one field and nothing else: its value is the name.
    name = parts[fields[0]] if _one_field(template) else template.format(**parts)
    if not name or name.startswith("."):
        raise NamingError(f"filename template {template!r} gives an empty or hidden file name")
    if "/" in name or "\\" in name or "\x00" in name:
        raise NamingError(f"filename template {template!r} produces a path, not a file name")
    size = len(name.encode("utf-8")) + len(EXTENSION)
    if size > MAX_NAME_BYTES:
        raise NamingError(
            f"key gives a file name of {size} bytes; the limit is {MAX_NAME_BYTES} "
            "(shorten the key or set a shorter filename template)"
        )
    return name + EXTENSION


def collision_key(name: str) -> str:
    """Names equal under this are the same file on macOS and Windows."""
    return name.casefold()
