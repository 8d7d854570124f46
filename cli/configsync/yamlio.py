"""Strict YAML reading and deterministic YAML writing.

Reading is stricter than ``yaml.safe_load``: duplicate keys, anchors, aliases,
explicit tags, byte-order marks, deep nesting and oversized files are refused,
floats become exact ``Decimal`` (``.nan``, ``.inf``, ``-.inf`` too) and
timestamps stay strings. The composed node
tree is kept so that any later finding can be pointed at a line.

Writing always produces the same bytes for the same value: block style, no line
folding, nested mappings sorted, strings quoted whenever YAML would read them as
another type.
"""
from __future__ import annotations

import dataclasses
import functools
import operator
import re
import sys
from collections.abc import Callable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import Resolver
from yaml.scanner import Scanner

from .errors import YamlError as YamlError
from .values import Value, format_decimal_yaml

MAX_BYTES = 1024 * 1024
MAX_DEPTH = 64

_TAG = "tag:yaml.org,2002:"


class _StrictComposer(Composer):
    _depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event = self.peek_event()  # type: ignore[attr-defined]
        line = event.start_mark.line + 1
        if isinstance(event, yaml.AliasEvent):
            raise YamlError(f"aliases (*{event.anchor}) are not allowed in configsync files", line)
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            raise YamlError(f"anchors (&{anchor}) are not allowed in configsync files", line)
        tag = getattr(event, "tag", None)
        if tag is not None:
            shown = tag.replace(_TAG, "!!")
            raise YamlError(f"YAML tags ({shown}) are not allowed; write a plain value instead", line)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise YamlError(f"values are nested more than {MAX_DEPTH} levels deep", line)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


# YAML 1.1 needs a dot and a signed exponent in a float (1.0e-7); people and
# other tools write 1e-7 and 6E-7. Read those as numbers too, and quote
# strings that look like them when writing, so both directions agree.
_EXPONENT_FLOAT = re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$")


class _Resolver(Resolver):
    pass


_Resolver.add_implicit_resolver(_TAG + "float", _EXPONENT_FLOAT, list("-+0123456789"))


class _Loader(Reader, Scanner, Parser, _StrictComposer, SafeConstructor, _Resolver):
    def __init__(self, stream: str) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        _Resolver.__init__(self)


def parse(data: bytes) -> tuple[Value, Node | None]:
    """Parse one YAML document into a value and its node tree."""
    if len(data) > MAX_BYTES:
        raise YamlError(f"file is {len(data):,} bytes; configsync files are limited to {MAX_BYTES:,}")
    if data.startswith(b"\xef\xbb\xbf"):
        raise YamlError("file starts with a byte-order mark; save it as UTF-8 without BOM", 1)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise YamlError(f"not valid UTF-8 (byte {exc.start})", line) from None
    try:
        loader = _Loader(text)
    except yaml.reader.ReaderError as exc:
        # The reader refuses control characters before parsing starts.
        raise YamlError(
            f"invalid YAML: unacceptable character #x{exc.character:04x}: special characters are not allowed "
            "(write it escaped in a double-quoted string)", text[: exc.position].count("\n") + 1,
        ) from None
    try:
        node = loader.get_single_node()
    except YamlError:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        if exc.context and exc.problem and exc.problem.startswith("but "):
            problem = f"{exc.context}, {exc.problem}"  # "expected a single document ..., but found another"
        raise YamlError(f"invalid YAML: {problem}", mark.line + 1 if mark else 0) from None
    except yaml.YAMLError as exc:
        raise YamlError(f"invalid YAML: {exc}") from None
    except RecursionError:
        raise YamlError(f"values are nested more than {MAX_DEPTH} levels deep") from None
    finally:
        loader.dispose()
    if node is None:
        return None, None
    return _construct(loader, node), node


class _Unusual(Exception):
    """The fast reader met something it leaves to `parse` (which words the error)."""


_CParser: Any
try:  # libyaml's parser, when PyYAML was built with it
    from yaml._yaml import CParser as _CParser
except ImportError:  # pragma: no cover - pure-Python PyYAML
    _CParser = None
_RESOLVER = _Resolver()
_CONSTRUCTOR = SafeConstructor()


def load(data: bytes) -> Value:
    """The value of one YAML document, by the same rules as `parse`.

    Reads libyaml's events and builds the value directly (no node tree): many
    times faster. Anything unusual (an error, an anchor, a tag, a duplicate key,
    deep nesting) is handed to `parse`, which raises the precise message."""
    if len(data) > MAX_BYTES or data.startswith(b"\xef\xbb\xbf"):
        return parse(data)[0]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return parse(data)[0]
    try:
        return read_written(text)
    except (_Unusual, ValueError):  # ValueError: an int with more digits than int() reads
        pass
    if _CParser is None:
        return parse(data)[0]
    try:
        return _load_events(_CParser(text))
    except (_Unusual, yaml.YAMLError, RecursionError, ValueError):
        return parse(data)[0]


def _load_events(parser: Any) -> Value:
    parser.get_event()  # StreamStart
    if isinstance(parser.peek_event(), yaml.StreamEndEvent):
        return None
    parser.get_event()  # DocumentStart
    value = _event_value(parser, parser.get_event(), 1)
    parser.get_event()  # DocumentEnd
    if not isinstance(parser.get_event(), yaml.StreamEndEvent):
        raise _Unusual  # a second document
    return value


def _event_value(parser: Any, event: Any, depth: int) -> Value:
    if depth > MAX_DEPTH or isinstance(event, yaml.AliasEvent):
        raise _Unusual
    if event.anchor is not None or event.tag is not None:
        raise _Unusual
    if isinstance(event, yaml.ScalarEvent):
        tag = _RESOLVER.resolve(ScalarNode, event.value, event.implicit)  # type: ignore[no-untyped-call]
        return _scalar(tag, event.value)
    if isinstance(event, yaml.SequenceStartEvent):
        items = []
        while not isinstance(parser.peek_event(), yaml.SequenceEndEvent):
            items.append(_event_value(parser, parser.get_event(), depth + 1))
        parser.get_event()
        return items
    if isinstance(event, yaml.MappingStartEvent):
        mapping: dict[str, Value] = {}
        while not isinstance(parser.peek_event(), yaml.MappingEndEvent):
            key = parser.get_event()
            if not isinstance(key, yaml.ScalarEvent) or key.anchor is not None or key.tag is not None:
                raise _Unusual
            resolved = _RESOLVER.resolve(ScalarNode, key.value, key.implicit)  # type: ignore[no-untyped-call]
            if key.implicit[0] and resolved == _TAG + "merge":
                raise _Unusual
            if key.value in mapping:
                raise _Unusual
            # One str per column name, not one per row: a sixth of a large load's memory.
            mapping[sys.intern(key.value)] = _event_value(parser, parser.get_event(), depth + 1)
        parser.get_event()
        return mapping
    raise _Unusual


def _scalar(tag: str, text: str) -> Value:
    if tag == _TAG + "str" or tag == _TAG + "timestamp":
        return text
    if tag == _TAG + "null":
        return None
    node = ScalarNode(tag, text)
    if tag == _TAG + "bool":
        return bool(_CONSTRUCTOR.construct_yaml_bool(node))
    if tag == _TAG + "int":
        number = int(_CONSTRUCTOR.construct_yaml_int(node))
        if _too_long(number):
            raise _Unusual
        return number
    if tag == _TAG + "float":
        cleaned = text.replace("_", "")
        special = _special_number(cleaned)
        if special is not None:
            return special
        try:
            value = Decimal(cleaned)
        except InvalidOperation:
            raise _Unusual from None
        if _too_long(value):
            raise _Unusual
        return value
    raise _Unusual


# A number with more digits than this, or a larger power of ten, is refused:
# Python will not print such an integer, and exact arithmetic on 1e999999999
# would run out of time and memory. No configuration value needs one.
MAX_DIGITS = 4300
_INT_LIMIT: int = 10**MAX_DIGITS


def _too_long(value: int | Decimal) -> bool:
    if isinstance(value, int):
        return abs(value) >= _INT_LIMIT
    return abs(value.adjusted()) > MAX_DIGITS or len(value.as_tuple().digits) > MAX_DIGITS


def _number_error(node: ScalarNode) -> YamlError:
    text = str(node.value)
    shown = text if len(text) <= 24 else text[:20] + "..."
    return YamlError(f"{shown}: too large or too precise; numbers are limited to {MAX_DIGITS} digits",
                     node.start_mark.line + 1)


def _construct(loader: _Loader, node: Node) -> Value:
    line = node.start_mark.line + 1
    if isinstance(node, ScalarNode):
        tag = node.tag
        if tag == _TAG + "null":
            return None
        if tag == _TAG + "bool":
            return bool(loader.construct_yaml_bool(node))
        if tag == _TAG + "int":
            try:
                number = int(loader.construct_yaml_int(node))
            except ValueError:  # more digits than int() reads
                raise _number_error(node) from None
            if _too_long(number):
                raise _number_error(node)
            return number
        if tag == _TAG + "float":
            return _decimal(loader, node)
        if tag in (_TAG + "str", _TAG + "timestamp"):
            # Timestamps stay the text the author wrote; columns decide meaning.
            return str(node.value)
        raise YamlError(f"unsupported YAML value {node.value!r}", line)
    if isinstance(node, SequenceNode):
        return [_construct(loader, item) for item in node.value]
    if isinstance(node, MappingNode):
        result: dict[str, Value] = {}
        for key_node, value_node in node.value:
            key_line = key_node.start_mark.line + 1
            if not isinstance(key_node, ScalarNode) or key_node.tag == _TAG + "merge":
                raise YamlError("mapping keys must be plain strings (no merge keys or complex keys)", key_line)
            key = str(key_node.value)
            if key in result:
                raise YamlError(f"duplicate key {key!r}", key_line)
            result[key] = _construct(loader, value_node)
        return result
    raise YamlError("unsupported YAML node", line)


def _special_number(text: str) -> Decimal | None:
    """YAML's .nan, .inf and -.inf (any case YAML 1.1 allows) as Decimals."""
    name = text.lower()
    if name == ".nan":
        return Decimal("NaN")
    if name in (".inf", "+.inf"):
        return Decimal("Infinity")
    if name == "-.inf":
        return Decimal("-Infinity")
    return None


def _decimal(loader: _Loader, node: ScalarNode) -> Decimal:
    text = str(node.value).replace("_", "")
    special = _special_number(text)
    if special is not None:
        return special
    try:
        value = Decimal(text)
    except InvalidOperation:
        # Sexagesimal (1:30.5) and other YAML 1.1 oddities: let PyYAML decide.
        value = Decimal(repr(loader.construct_yaml_float(node)))
    if not value.is_finite() or _too_long(value):
        raise _number_error(node)
    return value


def node_at(root: Node | None, path: Sequence[str | int]) -> Node | None:
    """The deepest node along ``path`` (mapping keys and list indexes)."""
    node = root
    for step in path:
        if isinstance(node, MappingNode):
            for key_node, value_node in node.value:
                if key_node.value == step:
                    node = value_node
                    break
            else:
                return node
        elif isinstance(node, SequenceNode) and isinstance(step, int) and step < len(node.value):
            node = node.value[step]
        else:
            return node
    return node


def line_of(root: Node | None, path: Sequence[str | int] = ()) -> int:
    node = node_at(root, path)
    return node.start_mark.line + 1 if node is not None else 0


def key_line(root: Node | None, path: str | Sequence[str | int]) -> int:
    """Line of a mapping key itself (not its value): where a reader looks for a column."""
    steps: list[str | int] = [path] if isinstance(path, str) else list(path)
    parent = node_at(root, steps[:-1]) if steps else root
    if steps and isinstance(parent, MappingNode):
        for key_node, _ in parent.value:
            if key_node.value == steps[-1]:
                return int(key_node.start_mark.line) + 1
    return line_of(root, steps)


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        # The same object twice must not become &id001/*id001: the bytes
        # depend on values only, and the loader refuses aliases.
        return True


_Dumper.add_implicit_resolver(_TAG + "float", _EXPONENT_FLOAT, list("-+0123456789"))


def _represent_decimal(dumper: Any, value: Decimal) -> Any:
    text = format_decimal_yaml(value)
    # numeric 1 reads back as the int 1, which compares equal; tagging it as a
    # float would put an explicit !!float tag in the file.
    tag = "float" if "." in text or "e" in text else "int"
    return dumper.represent_scalar(_TAG + tag, text)


def _represent_str(dumper: Any, value: str) -> Any:
    if "\x85" in value:
        # NEL is a line break to YAML: only an escaped form survives a reload.
        return dumper.represent_scalar(_TAG + "str", value, style='"')
    style = "|" if "\n" in value.rstrip("\n") else None
    return dumper.represent_scalar(_TAG + "str", value, style=style)


_Dumper.add_representer(Decimal, _represent_decimal)
_Dumper.add_representer(str, _represent_str)

# libyaml's emitter writes the same bytes as the pure-Python one for
# everything configsync emits except characters beyond U+FFFF, which it
# escapes; those rows take the pure-Python path. tests/test_yamlio.py holds
# the two to the same output, so the bytes never depend on the machine.
_CDumper: Any = None
if hasattr(yaml, "CSafeDumper"):

    class _FastDumper(yaml.CSafeDumper):
        def ignore_aliases(self, data: Any) -> bool:
            return True

    _FastDumper.add_representer(Decimal, _represent_decimal)
    _FastDumper.add_representer(str, _represent_str)
    _FastDumper.add_implicit_resolver(_TAG + "float", _EXPONENT_FLOAT, list("-+0123456789"))
    _CDumper = _FastDumper

_ASTRAL = re.compile("[\U00010000-\U0010FFFF]")
_WIDTH = 2**30  # no line folding


def _has_astral(value: Value) -> bool:
    if isinstance(value, str):
        return _ASTRAL.search(value) is not None
    if isinstance(value, list):
        return any(_has_astral(v) for v in value)
    if isinstance(value, dict):
        return any(_has_astral(k) or _has_astral(v) for k, v in value.items())
    return False


def _sorted_nested(value: Value) -> Value:
    if isinstance(value, dict):
        return {k: _sorted_nested(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted_nested(v) for v in value]
    return value


# Strings PyYAML writes plain in block context whatever they hold in between:
# ASCII word characters and URL punctuation, single inner spaces, no
# indicator in the first place, no ": " or " #".
# Whether they would read back as another type is the resolvers' question.
_INNER = r"(?:[A-Za-z0-9_./@()+=&%~,?!-]|:(?=[^ ]))"
_PLAIN = re.compile(rf"[A-Za-z0-9_/]{_INNER}*(?: {_INNER}+)*\Z")
_SIMPLE_KEY_MAX = 128  # longer mapping keys become "? key" complex keys


@functools.lru_cache(maxsize=65536)  # column names and enum-like values repeat in every row
def _plain(text: str, tag: str = "str") -> bool:
    """Would PyYAML write ``text`` (meant as ``tag``) as a bare plain scalar?"""
    if not _PLAIN.match(text):
        return False
    for resolved, pattern in _Dumper.yaml_implicit_resolvers.get(text[0], ()):
        if pattern.match(text):
            return str(resolved) == _TAG + tag
    return tag == "str"


# ---- the files configsync writes, read line by line ----------------------------------
#
# `dump` writes most rows as block YAML of simple scalars only (`_dump_direct`):
# "key: value", "key:" over a nested block, "- item", "- key: value", {} and [],
# and text that would read as another type in single quotes ('2025-10-03').
# Reading that subset needs no YAML parser: each line is one regular expression.
# Anything else (other quoting, block scalars, flow collections, anchors, tags, odd
# indentation, duplicate keys, non-ASCII) raises _Unusual and takes the general
# path, which gives the same value or words the error. tests/test_yamlio.py holds
# the two to the same result on random documents.
_TEXT_CHARS = r"[A-Za-z0-9_./@()+=&%~,?!:-]"
# A key or a plain value as `_PLAIN` has them ("-" and "." may start a number or
# .inf); ": " and a final ":" are refused by the caller.
_PLAIN_TEXT = re.compile(rf"[-.]?[A-Za-z0-9_/]{_TEXT_CHARS}*(?: {_TEXT_CHARS}+)*")
_COMMENT = re.compile(r" *#[\x20-\x7e]*")  # a comment line of printable ASCII
_DASH, _KEY, _VALUE = 0, 1, 2
_Token = tuple[int, int, int, str, str | None]  # kind, column, line, key or text, inline value


def read_written(text: str) -> Value:
    """The value of a file in the subset `dump` writes directly; _Unusual for any other
    (or ValueError, for a number too long to read). A file of a shape read before
    (the same lines but for their values) takes that shape's plan: see `_Plan`."""
    if len(text) <= _PLAN_MAX_CHARS:
        for plan in _PLANS:
            found = plan.pattern.fullmatch(text)
            if found is not None:
                if plan is not _PLANS[0]:
                    _PLANS.remove(plan)
                    _PLANS.insert(0, plan)
                known = _VALUES_KNOWN.get
                try:
                    return plan.fill([value if (value := known(text, _NOT_KNOWN)) is not _NOT_KNOWN  # type: ignore[misc]
                                      else _value_of(text) for text in found.groups()])
                except (_Unusual, ValueError):
                    return _read_lines(text)  # a value outside the subset: the line reader decides
    return _read_lines(text, True)


def _read_lines(text: str, learn: bool = False) -> Value:
    """`read_written` line by line, without plans; ``learn``: a shape seen twice gets a plan."""
    tokens: list[_Token] = []
    append = tokens.append
    lines = text.split("\n")
    for number, line in enumerate(lines):
        content = line.lstrip(" ")
        if not content or content[0] == "#":
            if content and _COMMENT.fullmatch(line) is None:
                raise _Unusual
            continue
        column = len(line) - len(content)
        while content[:2] == "- ":
            append((_DASH, column, number, "", None))
            column += 2
            content = content[2:]
        if not content:
            raise _Unusual
        key, colon, inline = content.partition(": ")
        if colon:
            _check_key(key)
            _check_value(inline)
            append((_KEY, column, number, key, inline))
        elif content[-1] == ":":
            _check_key(content[:-1])
            append((_KEY, column, number, content[:-1], None))
        else:
            _check_value(content)
            append((_VALUE, column, number, content, None))
    if not tokens or tokens[0][0] != _KEY or tokens[0][1] != 0:
        raise _Unusual
    value, end = _read_block(tokens, 0, 1)
    if end != len(tokens):
        raise _Unusual
    if learn and len(text) <= _PLAN_MAX_CHARS and len(lines) <= _PLAN_MAX_LINES:
        _learn(lines, tokens)
    return value


# ---- plans: the files of one shape, read by one regular expression --------------------
#
# The record files of a table mostly share one shape: the same lines (comment,
# keys, indentation, dashes) but for the values at their ends. A shape that the
# line reader has read twice gets a plan: a regular expression of its lines with
# a group for each value, and the value `_read_block` built with a slot for each.
# A file the expression matches (one call, in C) is the file the line reader
# would have read with those same tokens, values apart: a value is read by
# `_value_of`, which checks and converts it exactly as the line reader does
# (`_check_value`, `_plain_value`), so no value can change the tokens (it has no
# line break, no ": ", no final ":", no leading space, dash or "#"). Any value
# outside the subset hands the file back to the line reader.
# tests/test_yamlio.py holds plans to the line reader on files of one shape.
_PLAN_MAX_CHARS = 16384  # larger files are rare: no plan (a long expression to compile)
_PLAN_MAX_LINES = 400
_PLAN_COUNT = 8  # plans kept, most recently used first
_SHAPES_SEEN_MAX = 4096


class _Slot(int):
    """Where a value goes in a plan's value: the index of its line's group."""


@dataclasses.dataclass(frozen=True, slots=True)
class _Plan:
    pattern: re.Pattern[str]
    fill: Callable[[list[Value]], Value]


_PLANS: list[_Plan] = []
_shapes_seen: set[str] = set()


def _learn(lines: list[str], tokens: list[_Token]) -> None:
    """Make a plan for the shape of ``lines`` (read into ``tokens``) the second time it is seen."""
    at_end: dict[int, str] = {}  # line number -> the value text that ends it
    for kind, _, number, text, inline in tokens:
        if kind == _KEY and inline is not None:
            at_end[number] = inline
        elif kind == _VALUE:
            at_end[number] = text
    pieces = []
    slots: dict[int, _Slot] = {}
    for number, line in enumerate(lines):
        value = at_end.get(number)
        if value is None:
            pieces.append(re.escape(line))
        else:
            slots[number] = _Slot(len(slots))
            pieces.append(re.escape(line[: len(line) - len(value)]) + r"([^\n]*)")
    source = "\n".join(pieces)
    if source not in _shapes_seen:
        if len(_shapes_seen) >= _SHAPES_SEEN_MAX:
            _shapes_seen.clear()
        _shapes_seen.add(source)
        return
    _shapes_seen.discard(source)
    slotted = [(kind, column, number, text if kind != _VALUE else slots[number],
                slots[number] if kind == _KEY and inline is not None else None)
               for kind, column, number, text, inline in tokens]
    template, _ = _read_block(slotted, 0, 1, _slot_leaf)  # type: ignore[arg-type]
    _PLANS.insert(0, _Plan(re.compile(source), _filler(template)))
    del _PLANS[_PLAN_COUNT:]


def _slot_leaf(slot: Any) -> Any:
    return slot


def _filler(template: Any) -> Callable[[list[Value]], Value]:
    """A function from the values of a plan's groups (in line order) to the value."""
    if type(template) is _Slot:
        return operator.itemgetter(int(template))
    children = list(template.values() if isinstance(template, dict) else template)
    if all(type(child) is _Slot for child in children):
        # Every child a value: one call in C gathers them (a tuple, for two or more).
        gather: Callable[[list[Value]], tuple[Value, ...]]
        if len(children) == 1:
            only = int(children[0])
            gather = lambda found: (found[only],)  # noqa: E731
        else:
            gather = operator.itemgetter(*map(int, children))
        if isinstance(template, dict):
            keys = tuple(template)
            return lambda found: dict(zip(keys, gather(found), strict=True))
        return lambda found: list(gather(found))
    parts = [_filler(child) for child in children]
    if isinstance(template, dict):
        pairs = list(zip(template, parts, strict=True))
        return lambda found: {key: part(found) for key, part in pairs}
    return lambda found: [part(found) for part in parts]


# The values that repeat from row to row (true, USD, a date), read once.
_VALUES_KNOWN: dict[str, Value] = {}
_VALUES_KNOWN_MAX = 65536
_NOT_KNOWN = object()
# Numbers written as digits: what the YAML 1.1 resolvers make of them, without asking.
_PLAIN_INT = re.compile(r"-?(?:0|[1-9][0-9]{0,17})").fullmatch
_PLAIN_DECIMAL = re.compile(r"-?[0-9]{1,40}\.[0-9]{1,40}").fullmatch


def _value_of(text: str) -> Value:
    """`_check_value` then `_plain_value`: the value the line reader reads from a
    value text (the same exceptions for text outside the subset)."""
    known = _VALUES_KNOWN.get(text, _NOT_KNOWN)
    if known is not _NOT_KNOWN:
        return known  # type: ignore[return-value]
    if _PLAIN_INT(text) is not None:
        return int(text)
    if _PLAIN_DECIMAL(text) is not None:
        return Decimal(text)
    _check_value(text)
    value = _plain_value(text)
    if not isinstance(value, (dict, list)):  # {} and []: a new one each time
        if len(_VALUES_KNOWN) >= _VALUES_KNOWN_MAX:
            _VALUES_KNOWN.clear()
        _VALUES_KNOWN[text] = value
    return value


@functools.lru_cache(maxsize=65536)  # keys and many values repeat from row to row
def _check_text(text: str) -> None:
    if _PLAIN_TEXT.fullmatch(text) is None or text[-1] == ":" or ": " in text:
        raise _Unusual


def _check_key(text: str) -> None:
    # PyYAML takes a plain key of at most 1024 characters; dump writes longer
    # than _SIMPLE_KEY_MAX as "? key" (never this path).
    if len(text) >= _SIMPLE_KEY_MAX:
        raise _Unusual
    _check_text(text)


def _check_value(text: str) -> None:
    if len(text) > 2 and text[0] == "'" and text[-1] == "'":
        _check_text(text[1:-1])  # no quote inside: nothing to undouble
    elif text not in ("{}", "[]"):
        _check_text(text)


def _read_block(tokens: list[_Token], at: int, depth: int,
                leaf: Callable[[str], Value] | None = None) -> tuple[Value, int]:
    """The block that starts at token ``at`` (a mapping, a sequence or a scalar)
    and the index of the token after it; ``leaf`` reads a value text (`_plain_value`)."""
    if leaf is None:
        leaf = _plain_value
    if depth > MAX_DEPTH:
        raise _Unusual
    kind, column, _, text, _ = tokens[at]
    if kind == _VALUE:
        return leaf(text), at + 1
    count = len(tokens)
    if kind == _DASH:
        items: list[Value] = []
        while at < count and tokens[at][0] == _DASH and tokens[at][1] == column:
            line = tokens[at][2]
            at += 1
            # The item starts on the dash's line ("- x", "- k: v", "- - x").
            if at >= count or tokens[at][2] != line:
                raise _Unusual
            item, at = _read_block(tokens, at, depth + 1, leaf)
            items.append(item)
        if at < count and tokens[at][1] > column:
            raise _Unusual
        return items, at
    mapping: dict[str, Value] = {}
    while at < count and tokens[at][0] == _KEY and tokens[at][1] == column:
        _, _, line, key, inline = tokens[at]
        at += 1
        if key in mapping:
            raise _Unusual
        if inline is not None:
            mapping[sys.intern(key)] = leaf(inline)
            continue
        # "key:" over a nested block: deeper, or a sequence at the key's column.
        if at >= count or not (tokens[at][1] > column or (tokens[at][0] == _DASH and tokens[at][1] == column)):
            raise _Unusual
        if tokens[at][0] == _VALUE:
            raise _Unusual  # a plain scalar continued on the next line
        mapping[sys.intern(key)], at = _read_block(tokens, at, depth + 1, leaf)
    if at < count and tokens[at][1] >= column:
        raise _Unusual  # a dash or scalar among the keys, or a deeper stray line
    return mapping, at


def _plain_value(text: str) -> Value:
    """The value of a plain scalar `read_written` has checked."""
    if text == "{}":
        return {}
    if text == "[]":
        return []
    if text[0] == "'":
        return text[1:-1]
    return _plain_scalar_value(text)


@functools.lru_cache(maxsize=65536)  # column values repeat from row to row (true, USD, json)
def _plain_scalar_value(text: str) -> Value:
    tag = _RESOLVER.resolve(ScalarNode, text, (True, False))  # type: ignore[no-untyped-call]
    return _scalar(tag, text)


class _NotFast(Exception):
    """A value the direct emitter does not handle; the row takes PyYAML's."""


def _plain_scalar(value: Value) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        text = format_decimal_yaml(value)
        if not value.is_finite():
            return text  # .nan, .inf, -.inf: plain YAML floats
        if _plain(text, "float" if "." in text or "e" in text else "int"):
            return text
    elif isinstance(value, str) and _PLAIN.match(value):
        # Text that reads back as another type (a date, a number, "true") goes
        # in single quotes; _PLAIN has no quote character to double inside.
        return value if _plain(value) else "'" + value + "'"
    raise _NotFast


@functools.lru_cache(maxsize=4096)  # the same column names in every row
def _key(key: object) -> str:
    if isinstance(key, str) and len(key) < _SIMPLE_KEY_MAX and _plain(key):
        return key
    raise _NotFast


def _flow_empty_or_scalar(value: Value) -> str:
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    return _plain_scalar(value)


# First characters some implicit resolver looks at (_plain): a string that
# _PLAIN matches and that starts with any other character is written bare.
_RESOLVED_FIRST = frozenset(first for first in _Dumper.yaml_implicit_resolvers if first is not None)
_match_plain = _PLAIN.match
_DIGITS = frozenset("0123456789")
_LEAVES = frozenset({str, int, Decimal, bool, type(None)})  # never a collection


def _scalar_text(value: Value) -> str:
    """`_flow_empty_or_scalar`, by exact type first: the same text for the
    values rows are made of (tests/test_yamlio.py holds the two equal)."""
    kind = type(value)
    if kind is str:
        if _match_plain(value):  # type: ignore[arg-type]
            # Text that reads back as another type (a date, a number, "true")
            # goes in single quotes; _PLAIN has no quote character to double inside.
            if value[0] not in _RESOLVED_FIRST or _plain(value):  # type: ignore[index, arg-type]
                return value  # type: ignore[return-value]
            return "'" + value + "'"  # type: ignore[operator]
    elif kind is int:
        return str(value)
    elif kind is bool:
        return "true" if value else "false"
    elif value is None:
        return "null"
    elif kind is Decimal:
        text = format_decimal_yaml(value)  # type: ignore[arg-type]
        # Positional and not negative: the float or int resolver reads it back as itself.
        if text[0] in _DIGITS and "e" not in text:
            return text
    return _flow_empty_or_scalar(value)


def _emit(value: Value, indent: str, lines: list[str], prefix: str) -> None:
    """Append ``prefix`` + value in PyYAML's block layout (indentless lists in
    mappings, "- key: v" for mappings in lists), nested keys sorted."""
    append = lines.append
    if isinstance(value, dict) and value:
        head = prefix
        deeper = indent + "  "
        for key in sorted(value):
            head += _key(key) + ":"
            item = value[key]
            if type(item) in _LEAVES:
                append(head + " " + _scalar_text(item))
            elif isinstance(item, dict) and item:
                append(head)
                _emit(item, deeper, lines, deeper)
            elif isinstance(item, list) and item:
                append(head)
                _emit(item, indent, lines, indent)
            else:
                append(head + " " + _scalar_text(item))
            head = indent
    elif isinstance(value, list) and value:
        head = prefix + "- "
        deeper = indent + "  "
        for item in value:
            if type(item) not in _LEAVES and isinstance(item, (dict, list)) and item:
                _emit(item, deeper, lines, head)
            else:
                append(head + _scalar_text(item))
            head = indent + "- "
    else:
        raise _NotFast


def _dump_direct(mapping: dict[str, Value]) -> str | None:
    """The bytes PyYAML would write for a row of simple values, written directly:
    a twentieth of the time. None where the row holds anything else (quoting,
    multi-line text, non-ASCII); tests/test_yamlio.py holds both to the same output."""
    if not mapping:
        return None
    lines: list[str] = []
    append = lines.append
    try:
        for key, value in mapping.items():
            head = _key(key) + ":"
            if type(value) in _LEAVES:
                append(head + " " + _scalar_text(value))
            elif isinstance(value, dict) and value:
                append(head)
                _emit(value, "  ", lines, "  ")
            elif isinstance(value, list) and value:
                append(head)
                _emit(value, "", lines, "")
            else:
                append(head + " " + _scalar_text(value))
    except _NotFast:
        return None
    append("")
    return "\n".join(lines)


def dump(mapping: dict[str, Value], header: str = "", *, fast: bool = True, direct: bool = True) -> bytes:
    """Render a top-level mapping in its given key order; nested keys sorted.
    ``fast``/``direct`` exist for tests: the output never depends on them."""
    if direct:
        text = _dump_direct(mapping)
        if text is not None:
            return (header + text).encode("utf-8")
    data = {k: _sorted_nested(v) for k, v in mapping.items()}
    use_c = fast and _CDumper is not None and not _has_astral(data)
    body = yaml.dump(
        data,
        Dumper=_CDumper if use_c else _Dumper,
        default_flow_style=False,
        sort_keys=False,
        allow_unicode=True,
        width=_WIDTH,
        indent=2,
    )
    return (header + body).encode("utf-8")
