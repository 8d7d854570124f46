"""The read-back finds a row by its key as one hashable value (readback._key_text):
the tuple of the canonical values for keys of text and whole numbers, their JSON
text otherwise. Two keys find each other exactly when their canonical JSON texts
(what it compared before) are equal: 1, 1.0 and Decimal("1.00") are one key,
"1", True and 1 are three."""
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
