"""The read-back's shortcuts against what they stand for.

It finds a row by its key as one hashable value (readback._key_text):
the tuple of the canonical values for keys of text and whole numbers, their JSON
text otherwise. Two keys find each other exactly when their canonical JSON texts
(what it compared before) are equal: 1, 1.0 and Decimal("1.00") are one key,
"1", True and 1 are three. And it takes a value read back as equal to the
file's without values.equal where both have the same types all the way down
and equal leaves (readback._identical): values.equal must agree, in every kind
of column."""
from __future__ import annotations

from decimal import Decimal

from configsync import readback, values
from hypothesis import given
from hypothesis import strategies as st

PARTS = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from(["", "1", "a", "A", "true", "[1]", "1.5"]),
    st.sampled_from([Decimal("1"), Decimal("1.00"), Decimal("-0"), Decimal("1.5"), Decimal("1.50"), Decimal("NaN"),
                     Decimal("Infinity"), Decimal("1E+1"), Decimal("10")]),
)
KEYS = st.lists(PARTS, min_size=1, max_size=2)


def _text(key: list[object]) -> str:
    return values.dumps([values.canonical(v) for v in key])


@given(KEYS, KEYS)
def test_two_keys_are_one_exactly_when_their_json_texts_are(left: list[object], right: list[object]) -> None:
    columns = tuple(f"k{i}" for i in range(max(len(left), len(right))))
    a = dict(zip(columns, left, strict=False))
    b = dict(zip(columns, right, strict=False))
    same_text = _text([a.get(c) for c in columns]) == _text([b.get(c) for c in columns])
    assert (readback._key_text(a, columns) == readback._key_text(b, columns)) == same_text


def test_whole_numbers_and_text_are_tuples() -> None:
    assert readback._key_text({"id": Decimal("1000000000001.000")}, ("id",)) == (1000000000001,)
    assert readback._key_text({"id": 7, "name": "x"}, ("id", "name")) == (7, "x")
    assert readback._key_text({"id": True}, ("id",)) == "[true]"


LEAVES = st.one_of(PARTS, st.sampled_from(["2025-10-03", "2025-10-03T10:00:00Z", "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11",
                                          "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"]))
VALUES = st.recursive(LEAVES, lambda children: st.one_of(
    st.lists(children, max_size=3), st.dictionaries(st.sampled_from(["a", "b", "$json"]), children, max_size=2)),
    max_leaves=6)
KINDS = ["text", "uuid", "timestamp", "date", "time", "integer", "numeric", "float", "boolean", "array", "json", "other"]


@given(VALUES, VALUES)
def test_identical_values_are_equal_in_every_kind_of_column(left: object, right: object) -> None:
    for a, b in ((left, right), (left, left), (right, right)):
        if readback._identical(a, b):
            assert all(values.equal(a, b, kind) for kind in KINDS), (a, b)


def test_what_identical_leaves_to_values_equal() -> None:
    assert not readback._identical(True, 1) and not values.equal(True, 1)
    assert not readback._identical([1], [Decimal("1.0")]) and values.equal([1], [Decimal("1.0")])
    assert not readback._identical(Decimal("NaN"), Decimal("NaN")) and values.equal(Decimal("NaN"), Decimal("NaN"))
    assert readback._identical({"a": [1, "x", None]}, {"a": [1, "x", None]})
