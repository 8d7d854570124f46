"""Strict YAML reading and deterministic writing (pure, no I/O)."""
from __future__ import annotations

import random
from decimal import Decimal
from pathlib import Path

import pytest
from configsync import values, yamlio
from helpers import commit_all, init_repo, run
from hypothesis import given, settings
from hypothesis import strategies as st


@pytest.mark.parametrize(
    ("data", "line", "fragment"),
    [
        (b"a: 1\nb: 2\na: 3\n", 3, "duplicate key 'a'"),
        (b"a: &x 1\nb: *x\n", 1, "anchors (&x) are not allowed"),
        (b"a: !!python/object:os.system x\n", 1, "YAML tags (!!python/object:os.system)"),
        (b"a: !custom 1\n", 1, "YAML tags (!custom)"),
        (b"\xef\xbb\xbfa: 1\n", 1, "byte-order mark"),
        (b"a: ok\nb: \xff\n", 2, "not valid UTF-8"),
        (b"a:\n\t- 1\n", 2, "invalid YAML"),
        (b"a: [1, 2\n", 2, "invalid YAML"),
        (b"[" * 100 + b"]" * 100, 1, "nested more than 64 levels"),
        (b"<<: {a: 1}\n", 1, "mapping keys must be plain strings"),
        (b"? [a]\n: 1\n", 1, "mapping keys must be plain strings"),
        (b"a: 1\n---\nb: 2\n", 2, "invalid YAML"),
        # duplicate keys, wherever they are and however they are quoted
        (b"a: 1\nb:\n  c: 1\n  c: 2\n", 4, "duplicate key 'c'"),
        (b"a: 1\n'a': 2\n", 2, "duplicate key 'a'"),
        (b"a: 1\n\"a\": 2\n", 2, "duplicate key 'a'"),
        (b"1: x\n'1': y\n", 2, "duplicate key '1'"),
        (b"l:\n  - {x: 1, y: 2, x: 3}\n", 2, "duplicate key 'x'"),
        (b"l:\n  - k: 1\n  - k: 2\n    k: 3\n", 4, "duplicate key 'k'"),
    ],
)
# Record files are read with `load` (libyaml's fast path, which hands anything
# unusual to `parse`), configsync.yaml with `parse`: both must refuse alike.
@pytest.mark.parametrize("reader", ["parse", "load"])
def test_rejected(reader: str, data: bytes, line: int, fragment: str) -> None:
    read = getattr(yamlio, reader)
    with pytest.raises(yamlio.YamlError) as info:
        read(data)
    assert fragment in info.value.message
    assert info.value.line == line


def test_load_reads_what_parse_reads() -> None:
    data = b"a: 0.70\nb: [1, {c: null, d: 'x'}]\nc: 2025-10-03\n'1': yes\ne: 12345678901234567890.123456789\n"
    assert yamlio.load(data) == yamlio.parse(data)[0] == {
        "a": Decimal("0.70"), "b": [1, {"c": None, "d": "x"}], "c": "2025-10-03", "1": True,
        "e": Decimal("12345678901234567890.123456789")}


def test_record_files_are_read_with_load_and_duplicates_are_refused(tmp_path: Path) -> None:
    """The path a record file really takes (validation reads record files
    with `load`; plan and apply validate first): a duplicate key is an error
    naming the file and line, never a silently kept last value (the value
    here would pass the schema, so only the duplicate can refuse it)."""
    repo = tmp_path / "repo"
    init_repo(repo)
    record = repo / "config-snapshots/system_config/budget_limits.yaml"
    record.parent.mkdir(parents=True)
    record.write_text("config_key: budget_limits\nconfig_type: json\nconfig_value:\n"
                      "  daily_hard_cap: 50\n  daily_hard_cap: 5000\n")
    commit_all(repo, "a record with a duplicate key")
    result = run(repo, "validate")
    assert result.code == 1, result.text
    assert "config-snapshots/system_config/budget_limits.yaml:5: duplicate key 'daily_hard_cap'" in result.text


def test_oversized_file_is_rejected_before_parsing() -> None:
    with pytest.raises(yamlio.YamlError, match="limited to"):
        yamlio.parse(b"a: " + b"x" * (yamlio.MAX_BYTES + 1))


def test_numbers_are_exact_and_timestamps_stay_text() -> None:
    value, _ = yamlio.parse(b"a: 0.70\nb: 1.5e-07\nc: 12345678901234567890.123456789\nd: 2025-10-03T17:02:12Z\ne: 7\n")
    assert value == {
        "a": Decimal("0.70"),
        "b": Decimal("1.5e-07"),
        "c": Decimal("12345678901234567890.123456789"),
        "d": "2025-10-03T17:02:12Z",
        "e": 7,
    }
    assert isinstance(value["e"], int)  # type: ignore[index]


def test_dump_is_deterministic_and_round_trips() -> None:
    row = {
        "z_first": "kept in given order",
        "numeric": Decimal("0.000000150"),
        "integral": Decimal("1"),
        "huge": Decimal("1E+30"),
        "looks_like_bool": "yes",
        "looks_like_number": "012",
        "looks_like_time": "2025-10-03T17:02:12+00:00",
        "multi": "line one\nline two",
        "nested": {"b": [1, {"y": None, "x": True}], "a": "é ✓ 中"},
        "empty": [],
        "null": None,
    }
    first = yamlio.dump(row, "# header\n")
    assert first == yamlio.dump(dict(row), "# header\n")
    text = first.decode()
    assert text.splitlines()[:2] == ["# header", "z_first: kept in given order"]
    assert "numeric: 0.00000015\n" in text  # every digit, trailing zeros dropped
    assert "integral: 1\n" in text
    assert "looks_like_bool: 'yes'\n" in text
    assert "looks_like_number: '012'\n" in text
    assert "multi: |-\n  line one\n  line two\n" in text
    assert text.index("  a: ") < text.index("  b:")  # nested keys sorted
    assert "!!" not in text
    back, _ = yamlio.parse(first)
    assert back == row


def test_long_strings_are_never_folded() -> None:
    text = yamlio.dump({"a": "word " * 100}).decode()
    assert len(text.splitlines()) == 1


def test_lines_point_at_keys_and_nested_values() -> None:
    _, node = yamlio.parse(b"a: 1\nb:\n  c:\n    - x\n    - y\n")
    assert yamlio.key_line(node, "b") == 2
    assert yamlio.line_of(node, ["b", "c", 1]) == 5
    assert yamlio.key_line(node, ["b", "c"]) == 3


AWKWARD = [
    "yes", "no", "012", "1e-7", "2025-10-03", "", " padded ", "- dash", "#hash", "a\nb", "a\nb\n",
    "line\n\n", "tab\there", "x: y", "@at", "`tick", "'q'", '"dq"', "\u2028x", "\u2029", "\x85z",
    "\x07bell", "\x1b[0m", "nbsp\u00a0", "zw\u200b", "a" * 300, "é ✓ 中", "null", "~", "True", "0x1F",
    "1_000", ".inf", "-", "?", "[a]", "{a}", "%p", "!t", "*a", "&a", "|", "a #b", "a: b", "\r\n", "\r",
    "\t", "word " * 100, "🚀 astral",
]


@pytest.mark.parametrize("text", AWKWARD)
def test_libyaml_and_pure_python_emitters_agree(text: str) -> None:
    """dump() uses libyaml when it can; the bytes must not depend on that."""
    row = {"v": text, "list": [text, {"k": text}], "n": Decimal("0.70"), "big": Decimal("1E+30")}
    assert yamlio.dump(row, "# h\n") == yamlio.dump(row, "# h\n", fast=False)
    assert yamlio.parse(yamlio.dump(row))[0] == {**row, "n": Decimal("0.7")}


def _random_value(rng: random.Random, depth: int) -> object:
    choice = rng.randrange(10 if depth < 4 else 7)
    if choice == 0:
        return rng.choice([None, True, False])
    if choice == 1:
        return rng.choice([0, -1, 7, 10**20, 128000])
    if choice == 2:
        return rng.choice([Decimal("0.70"), Decimal("1E+30"), Decimal("-1.5E-26"), Decimal("100.00"), Decimal("0.00000015")])
    if choice == 3 and rng.random() < 0.3:
        return rng.choice(AWKWARD)
    if choice in (3, 4, 5, 6):
        return rng.choice(PLAIN)
    if choice == 7:
        return [_random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {rng.choice(KEYS): _random_value(rng, depth + 1) for _ in range(rng.randrange(4))}


PLAIN = ["model-0000001", "https://api.example.com/v1/chat", "Setting number 2", "1.0.1", "a@b.c", "x_(y)",
         "ea6a007e-43af-44c3-99e5-e4e6e94aa064", "2025-10-03T10:00:00Z", "42", "0.5", "1e5", "Off", "NULL",
         "https://x.com/a?b=c&d=e%20f#x", "a,b", "a+b=c", "~user", "50%", "wow!", "a:", "a:b", "a: b", "x (y) z", "a  b"]
KEYS = ["a", "limit", "b_c", "z-1", "id", "A", "a", "limit", "b_c", "z-1", "id", "A",
        "true", "1", "", "x y", "é", "k" * 130, "?q", "<<"]


@pytest.mark.parametrize("seed", range(40))
def test_direct_emitter_writes_what_pyyaml_writes(seed: int) -> None:
    """dump() writes common rows itself (a twentieth of PyYAML's time); for any
    mix of nesting, empties, keys and scalars the bytes must equal PyYAML's."""
    rng = random.Random(seed)
    direct = 0
    for _ in range(60):
        row = {rng.choice(KEYS + PLAIN[:3]): _random_value(rng, 0) for _ in range(rng.randrange(1, 6))}
        assert yamlio.dump(row, "# h\n") == yamlio.dump(row, "# h\n", direct=False), row
        direct += yamlio._dump_direct(row) is not None
    assert direct >= 5  # the direct path was exercised, not only its fallback


# ---- the line reader for the files configsync writes ---------------------------------

def _same(a: object, b: object) -> bool:
    """Equal, with the same types all the way down (1 is not True, Decimal is not int)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)  # type: ignore[index]
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))  # type: ignore[arg-type]
    if isinstance(a, Decimal) and a.is_nan():
        return isinstance(b, Decimal) and b.is_nan()
    return a == b and str(a) == str(b)


def _pyyaml(data: bytes) -> object:
    """PyYAML's reading (the composed node tree), or the error it gives."""
    try:
        return yamlio.parse(data)[0]
    except yamlio.YamlError as exc:
        return exc


@pytest.mark.parametrize("seed", range(40))
def test_line_reader_reads_written_rows_as_pyyaml_does(seed: int) -> None:
    """Whatever dump() writes, the line reader reads to PyYAML's value or leaves alone."""
    rng = random.Random(seed)
    fast = 0
    for _ in range(60):
        row = {rng.choice(KEYS + PLAIN[:3]): _random_value(rng, 0) for _ in range(rng.randrange(1, 6))}
        data = yamlio.dump(row, "# yaml-language-server: $schema=../../schemas/t.schema.json\n")
        try:
            value = yamlio.read_written(data.decode())
        except yamlio._Unusual:
            continue
        fast += 1
        assert _same(value, yamlio.parse(data)[0]), data
        assert _same(yamlio.load(data), value)
    assert fast >= 3  # the line reader was exercised, not only its fallback


# Pieces of lines, near and far from what dump() writes: the reader must either
# read exactly PyYAML's value or leave the file to PyYAML (which words any error).
_PIECES = ["", " ", "  ", "    ", "- ", "- - ", "#", "# c", "a", "b", "k", "a:", "b:", "a: ", ": ", "1", "-1", "1.5",
           "-1.5", ".inf", "-.inf", ".nan", ".NaN", "1e5", "1.0e+5", "0x1F", "0o7", "012", "1_000", "1:30", "yes", "No",
           "null", "~", "true", "True", "{}", "[]", "{a: 1}", "[1]", "x y", "x  y", "a:b", "a :b", "a #b", "a# b",
           "'q'", '"q"', "&a x", "*a", "!t x", "|", ">", "?", "%", "@", "-", "--", "---", "...", "é", "\t", "\r",
           "2025-10-03", "'2025-10-03'", "'", "''", "'a b'", "'a: b'", "'#x'", "https://x.y/z?a=b", "x,y", "<<", "=", "+1", ".5", "-.5", "1e999999", "9" * 5000, "\x07"]


def _reader_agrees(text: str) -> None:
    """The line reader reads ``text`` as PyYAML does, or leaves it to PyYAML."""
    try:
        value = yamlio.read_written(text)
    except (yamlio._Unusual, ValueError):
        return
    expected = _pyyaml(text.encode())
    assert not isinstance(expected, yamlio.YamlError), (text, expected)
    assert _same(value, expected), (text, value, expected)


_WORDS = st.sampled_from(_PIECES)
_LINES = st.one_of(
    st.lists(_WORDS, max_size=4).map("".join),  # anything
    st.tuples(st.sampled_from(["", "  ", "    ", "   "]), st.sampled_from(["", "- ", "- - ", "-  "]),  # near dump()'s
              st.one_of(st.tuples(_WORDS, st.sampled_from([": ", ":"]), _WORDS).map("".join), _WORDS)).map("".join),
)


@given(st.lists(_LINES, min_size=1, max_size=8))
@settings(max_examples=3000, deadline=None)
def test_line_reader_agrees_with_pyyaml_on_random_documents(lines: list[str]) -> None:
    text = "\n".join(lines) + "\n"
    _reader_agrees(text)


def test_text_that_reads_as_another_type_is_quoted_and_read_without_pyyaml() -> None:
    """A date in a text column ('2020-01-02') is the commonest reason a row left
    the direct writer and the line reader; both now take it, as PyYAML does."""
    row = {"day": "2020-01-02", "n": "42", "flag": "true", "tags": ["1.5", "x"], "doc": {"at": "2025-10-03T10:00:00Z"}}
    text = yamlio._dump_direct(row)
    assert text is not None and text == yamlio.dump(row, direct=False).decode()
    assert "day: '2020-01-02'" in text
    assert _same(yamlio.read_written(text), row)


AWKWARD_NUMBERS = [Decimal("0.70"), Decimal("-0.0"), Decimal("1E+30"), Decimal("-1.5E-26"), Decimal("100"), Decimal("1.0"),
                   Decimal("-2"), Decimal("1E+2"), 2**63, -(2**63)]


@given(st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.sampled_from(PLAIN + AWKWARD),
              st.decimals(allow_nan=True, allow_infinity=True), st.sampled_from(AWKWARD_NUMBERS)),
    lambda children: st.one_of(st.lists(children, max_size=3),
                               st.dictionaries(st.sampled_from(KEYS), children, max_size=3)),
    max_leaves=12))
@settings(max_examples=1500, deadline=None)
def test_line_reader_reads_random_rows_as_pyyaml_does(value: object) -> None:
    data = yamlio.dump({"id": value, "note": "x"})
    try:
        fast = yamlio.read_written(data.decode())
    except (yamlio._Unusual, ValueError):
        return
    assert _same(fast, yamlio.parse(data)[0]), data


def test_the_reader_keeps_the_errors_and_their_lines() -> None:
    """Files the line reader does not take keep PyYAML's strictness and messages."""
    for data, line, fragment in [
        (b"# h\na: 1\nb:\n  c: 1\n  c: 2\n", 5, "duplicate key 'c'"),
        (b"a: 1\nl:\n- x\n- k: 1\n  k: 2\n", 5, "duplicate key 'k'"),
        (b"a: 1\nb: !!str 2\n", 2, "YAML tags"),
        (b"a: &x 1\nb: 2\n", 1, "anchors (&x)"),
        (b"a: 1\nb: 9" + b"9" * 5000 + b"\n", 2, "too large or too precise"),
    ]:
        with pytest.raises(yamlio.YamlError) as info:
            yamlio.load(data)
        assert (info.value.line, fragment in info.value.message) == (line, True), info.value


_ROWS = st.dictionaries(st.sampled_from(KEYS[:6]), st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.sampled_from(PLAIN[:6] + ["{}", "1.5", "yes"])),
    lambda children: st.one_of(st.lists(children, max_size=3), st.dictionaries(st.sampled_from(KEYS[:6]), children, max_size=3)),
    max_leaves=8), min_size=1, max_size=4)


@given(_ROWS, st.lists(st.tuples(st.integers(0, 30), st.integers(0, 40), st.sampled_from(["insert", "replace", "cut", "dup"]),
                                 st.sampled_from(_PIECES)), min_size=1, max_size=3))
@settings(max_examples=1500, deadline=None)
def test_line_reader_agrees_with_pyyaml_on_damaged_files(row: dict[str, object], edits: list[tuple[int, int, str, str]]) -> None:
    """dump()'s output with a few edits (a piece inserted, a character replaced, a
    line cut or doubled): near the subset's edges, where a wrong answer would hide."""
    lines = yamlio.dump(row, "# h\n").decode().split("\n")  # type: ignore[arg-type]
    for at, column, how, piece in edits:
        index = at % len(lines)
        line = lines[index]
        column = min(column, len(line))
        if how == "insert":
            lines[index] = line[:column] + piece + line[column:]
        elif how == "replace":
            lines[index] = line[:column] + piece + line[column + 1:]
        elif how == "cut":
            del lines[index]
            if not lines:
                return
        else:
            lines.insert(index, line)
    text = "\n".join(lines)
    _reader_agrees(text)


# ---- plans: files of one shape, read by one regular expression ---------------------------
#
# A shape the line reader has read twice gets a plan (yamlio._Plan). A file of
# that shape with other values must read exactly as the line reader reads it,
# whatever the values are: the plan hands back to the line reader any value it
# does not take, and a value that would change the lines' tokens (": ", a
# final ":", a dash, a "#", a space, a line break) must never be taken.

_VALUE_TEXTS = [*_PIECES, "0", "-0", "7", "-12", "007", "+5", "+1.5", "-1.5", "1.5_0", "1_0", "12.5", "-0.25", "00.5", "1.", ".5", "1.5e3",
                "123456789012345678", "1234567890123456789", "9" * 30 + ".5", "'x'", "'1.5'", "'a'b'", "'" * 4,
                "true", "False", "null", "~", "{}", "[]", "- x", "- - x", "a: b", "x:", "x: ", "#c", " x", "x ",
                "item-7", "t1", "group-2", "'2020-01-02'", "2020-01-02", "0.8571428571428571", "1e5", "-.inf", "é"]


def _slot_lines(text: str) -> list[tuple[int, str]]:
    """The lines of ``text`` with a value at their end, and the text before the value."""
    found = []
    for number, line in enumerate(text.split("\n")):
        head, colon, _ = line.partition(": ")
        if colon and not line.lstrip(" ").startswith("#"):
            found.append((number, head + colon))
        else:
            stripped = line.lstrip(" ")
            dashes = 0
            while stripped[2 * dashes:2 * dashes + 2] == "- ":
                dashes += 1
            if dashes and stripped[2 * dashes:] and not stripped.endswith(":"):
                found.append((number, line[: len(line) - len(stripped) + 2 * dashes]))
    return found


def _planned(text: str) -> yamlio._Plan | None:
    """The plan for ``text``'s shape, made by reading it twice."""
    for _ in range(2):
        yamlio._read_lines(text, True)
    return next((plan for plan in yamlio._PLANS if plan.pattern.fullmatch(text)), None)


def _line_reader(text: str) -> object:
    try:
        return yamlio._read_lines(text)
    except (yamlio._Unusual, ValueError) as exc:
        return type(exc)


def _plan_reads_as_line_reader(text: str) -> bool:
    """read_written(text) is the line reader's value (or its exception); True when a plan matched."""
    matched = any(plan.pattern.fullmatch(text) for plan in yamlio._PLANS)
    try:
        value: object = yamlio.read_written(text)
    except (yamlio._Unusual, ValueError) as exc:
        value = type(exc)
    expected = _line_reader(text)
    assert _same(value, expected), (text, value, expected)
    if not isinstance(expected, type):
        assert _same(value, yamlio.parse(text.encode())[0]), text
    return matched


@pytest.mark.parametrize("seed", range(30))
def test_plans_read_files_of_one_shape_as_the_line_reader_does(seed: int) -> None:
    rng = random.Random(seed)
    used = taken = 0
    for _ in range(40):
        row = {rng.choice(KEYS[:6] + PLAIN[:3]): _random_value(rng, 0) for _ in range(rng.randrange(1, 6))}
        text = yamlio.dump(row, "# yaml-language-server: $schema=../../schemas/t.schema.json\n").decode()
        if isinstance(_line_reader(text), type) or _planned(text) is None:
            continue
        lines = text.split("\n")
        slots = _slot_lines(text)
        for _ in range(8):
            other = list(lines)
            for number, head in slots:
                if rng.random() < 0.7:
                    other[number] = head + rng.choice(_VALUE_TEXTS)
            if rng.random() < 0.5:  # and the shape a little changed: a piece inserted, often indentation
                number = rng.randrange(len(other))
                column = rng.choice([0, 0, rng.randrange(len(other[number]) + 1)])
                other[number] = other[number][:column] + rng.choice([" ", "  ", "- ", *_PIECES]) + other[number][column:]
            matched = _plan_reads_as_line_reader("\n".join(other))
            used += matched
            taken += matched and not isinstance(_line_reader("\n".join(other)), type)
    assert used >= 30 and taken >= 12  # plans were exercised, and read values


@given(_ROWS, st.lists(st.sampled_from(_VALUE_TEXTS), min_size=1, max_size=12))
@settings(max_examples=1500, deadline=None)
def test_plans_agree_with_the_line_reader_on_random_values(row: dict[str, object], texts: list[str]) -> None:
    text = yamlio.dump(row).decode()
    if isinstance(_line_reader(text), type) or _planned(text) is None:
        return
    lines = text.split("\n")
    for (number, head), value in zip(_slot_lines(text), texts * 12, strict=False):
        lines[number] = head + value
    _plan_reads_as_line_reader("\n".join(lines))


@given(st.one_of(st.sampled_from(_VALUE_TEXTS), st.lists(st.sampled_from(_PIECES), max_size=3).map("".join),
                 st.from_regex(r"[-+.]?[0-9_]{0,45}(\.[0-9_]{0,45})?([eE][-+]?[0-9]{1,3})?", fullmatch=True)))
@settings(max_examples=3000, deadline=None)
def test_a_plans_values_are_read_as_the_line_reader_reads_them(text: str) -> None:
    """_value_of (known values remembered, digits read directly) = _check_value + _plain_value."""
    def slow() -> object:
        try:
            yamlio._check_value(text)
            return yamlio._plain_value(text)
        except (yamlio._Unusual, ValueError) as exc:
            return type(exc)
    for _ in range(2):  # the second time from what the first remembered
        try:
            fast: object = yamlio._value_of(text)
        except (yamlio._Unusual, ValueError) as exc:
            fast = type(exc)
        assert _same(fast, slow()), text


def test_a_plan_is_made_for_a_shape_read_twice_and_used() -> None:
    first = "# h\nid: 1\ntags:\n- a\n- b\nday: '2020-01-02'\n"
    second = "# h\nid: 22\ntags:\n- c\n- 1.5\nday: x\n"
    yamlio._read_lines(first, True)
    assert not any(plan.pattern.fullmatch(second) for plan in yamlio._PLANS)  # once: no plan yet
    assert _planned(first) is not None
    assert _plan_reads_as_line_reader(second)
    assert yamlio.read_written(second) == {"id": 22, "tags": ["c", Decimal("1.5")], "day": "x"}
    # A value that would change the file's tokens is the line reader's to refuse.
    for value in ("a: b", "- x", "x:", "#c", " x", "", "'a'b'", "{a: 1}"):
        assert _plan_reads_as_line_reader(second.replace("day: x", "day: " + value))


# ---- the direct writer's fast paths, against the full rules and PyYAML -------------------
#
# `_scalar_text` decides by exact type and first character, `format_decimal_yaml`
# takes str() for positional decimals; both keep the full rule as their
# fallback. Random text near the resolvers' edges (first characters that start
# a number, a bool, null or a date; colons, spaces, quotes) and random decimals
# near every formatting edge (trailing zeros, exponents either side, ±24
# magnitudes, -0, NaN and ±Infinity) must give the same text both ways, and
# rows of them the bytes PyYAML writes.

_NEAR_RESOLVERS = st.text(alphabet=st.sampled_from(list("aAbtTyYnNoOfF019_/.@()+=&%~,?!-:eExX' #<é")), max_size=10)
_TEXTS = st.one_of(_NEAR_RESOLVERS, st.sampled_from(PLAIN + AWKWARD + KEYS), st.dates().map(str),
                   st.text(max_size=6))
_DECIMALS = st.one_of(
    st.decimals(allow_nan=True, allow_infinity=True),
    st.builds(lambda sign, digits, exponent: Decimal((sign, tuple(digits), exponent)),
              st.integers(0, 1), st.lists(st.integers(0, 9), min_size=1, max_size=30), st.integers(-45, 45)),
    st.sampled_from(AWKWARD_NUMBERS[:8]),
)
_LEAVES = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(-3, 3), _TEXTS, _DECIMALS)


@given(_DECIMALS)
@settings(max_examples=3000, deadline=None)
def test_decimals_fast_format_is_the_full_one(value: Decimal) -> None:
    assert values.format_decimal_yaml(value) == values._format_decimal_yaml_full(value)


def _text_or_refusal(write: object, value: object) -> str:
    try:
        return write(value)  # type: ignore[operator, no-any-return]
    except yamlio._NotFast:
        return "<not fast>"


@given(st.one_of(_LEAVES, st.just([]), st.just({})))
@settings(max_examples=3000, deadline=None)
def test_scalar_fast_path_writes_what_the_full_rule_writes(value: object) -> None:
    assert _text_or_refusal(yamlio._scalar_text, value) == _text_or_refusal(yamlio._flow_empty_or_scalar, value)


@given(st.dictionaries(st.one_of(st.sampled_from(KEYS), _NEAR_RESOLVERS), st.recursive(
    _LEAVES,
    lambda children: st.one_of(st.lists(children, max_size=3),
                               st.dictionaries(st.one_of(st.sampled_from(KEYS), _NEAR_RESOLVERS), children, max_size=3)),
    max_leaves=10), min_size=1, max_size=6))
@settings(max_examples=2000, deadline=None)
def test_direct_writer_writes_random_rows_as_pyyaml_does(row: dict[str, object]) -> None:
    assert yamlio.dump(row, "# h\n") == yamlio.dump(row, "# h\n", direct=False)  # type: ignore[arg-type]


def test_direct_writer_takes_the_rows_snapshots_are_made_of() -> None:
    """The fast paths really run for a typical row (no fallback to PyYAML), and
    write its bytes."""
    row = {"id": 1000000000001, "doc": {"name": "item-1", "labels": ["a", "b1"], "enabled": False,
                                       "limits": {"burst": Decimal("1.5"), "daily": 1, "none": None}},
           "amount": Decimal("3.1415926536"), "tags": ["t1", "group-1"], "weight": Decimal("0.14285714285714285"),
           "day": "2020-01-02", "zero": Decimal("0E-10"), "hundred": Decimal("100.00"), "neg": -5}
    text = yamlio._dump_direct(row)  # type: ignore[arg-type]
    assert text is not None and text.encode() == yamlio.dump(row, direct=False)  # type: ignore[arg-type]
    assert "amount: 3.1415926536\n" in text and "day: '2020-01-02'\n" in text and "zero: 0\n" in text


def test_render_orders_columns_and_puts_the_unnamed_last(tmp_path: Path) -> None:
    """records.render skips its second pass when the order names every column;
    a column it does not name (or a named one the row lacks) still lands as before."""
    from configsync import records
    from configsync.config import load_config
    (tmp_path / "configsync.yaml").write_text("tables:\n  t:\n    key: id\n")
    config = load_config(tmp_path / "configsync.yaml")
    head = records.header(config, "t").encode()
    assert records.render(config, "t", {"b": 2, "id": 1}, ["id", "b"]) == head + b"id: 1\nb: 2\n"
    assert records.render(config, "t", {"z": 0, "b": 2, "id": 1}, ["id", "b", "gone"]) == head + b"id: 1\nb: 2\nz: 0\n"
    assert records.render(config, "t", {"x": 3, "id": 1}, ["id", "b"]) == head + b"id: 1\nx: 3\n"
