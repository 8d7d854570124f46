"""row_render: a snapshot's record files rendered per table must be the bytes
records.render gives each row (and yamlio._dump_direct each mapping), for any
row, whichever path (remembered string texts, exact-type scalars, the column
order worked out once) writes it."""
from __future__ import annotations

import random
from collections import OrderedDict
from decimal import Decimal
from pathlib import Path

import pytest
from configsync import records, row_render, yamlio
from configsync.config import Config, load_config
from hypothesis import given, settings
from hypothesis import strategies as st
from test_yamlio import _LEAVES, _NEAR_RESOLVERS, AWKWARD, KEYS, PLAIN, _random_value

_ROWS = st.dictionaries(st.one_of(st.sampled_from(KEYS), _NEAR_RESOLVERS), st.recursive(
    st.one_of(_LEAVES, st.floats(allow_nan=False), st.just([]), st.just({})),
    lambda children: st.one_of(st.lists(children, max_size=3),
                               st.dictionaries(st.one_of(st.sampled_from(KEYS), _NEAR_RESOLVERS), children, max_size=3)),
    max_leaves=10), max_size=6)


def _config(tmp_path: Path) -> Config:
    (tmp_path / "configsync.yaml").write_text("tables:\n  t:\n    key: id\n")
    return load_config(tmp_path / "configsync.yaml")


@given(_ROWS)
@settings(max_examples=3000, deadline=None)
def test_direct_writes_what_the_direct_writer_writes(row: dict[str, object]) -> None:
    expected = yamlio._dump_direct(row)  # type: ignore[arg-type]
    assert row_render.direct(row) == expected  # type: ignore[arg-type]
    assert row_render.direct(row) == expected  # type: ignore[arg-type]  # again: the strings' texts remembered


@pytest.mark.parametrize("seed", range(20))
def test_table_renderer_writes_what_render_writes(tmp_path: Path, seed: int) -> None:
    """Rows in the column order, in another order, with columns the order does not
    name or lacks, of every kind of value: render's bytes, row after row."""
    config = _config(tmp_path)
    rng = random.Random(seed)
    columns = ["id", "limit", "a", "b_c", "z-1", "gone"]
    renderer = row_render.TableRenderer(config, "t", columns)
    fast = 0
    for _ in range(200):
        names = rng.sample(columns[:-1] + ["extra", "A"], rng.randrange(1, 6))
        if rng.random() < 0.5:
            names.sort(key=lambda n: columns.index(n) if n in columns else len(columns))
        row = {n: _random_value(rng, 0) for n in names}
        assert renderer(row) == records.render(config, "t", row, columns), row
        fast += row_render.direct(row) is not None  # type: ignore[arg-type]
    assert fast >= 20  # the fast path ran, not only its fallback


def test_the_rows_snapshots_are_made_of_take_the_fast_path(tmp_path: Path) -> None:
    config = _config(tmp_path)
    columns = ["id", "doc", "amount", "tags", "weight", "day", "none", "flag", "empty"]
    renderer = row_render.TableRenderer(config, "t", columns)
    for i in range(3):
        row = {"id": 1000000000000 + i, "doc": {"name": f"item-{i}", "labels": ["a", "b1", {"k": "2020-01-02"}],
                                                "enabled": i % 2 == 0, "limits": {"burst": Decimal("1.50"), "daily": i}},
               "amount": Decimal("3.1415926536"), "tags": ["t1", "yes", "0x1", ["n"]], "weight": Decimal("0.50"),
               "day": "2020-01-02", "none": None, "flag": True, "empty": {}}
        text = row_render.direct(row)  # type: ignore[arg-type]
        assert text is not None and "day: '2020-01-02'\n" in text and "- 'yes'\n" in text
        assert renderer(row) == records.render(config, "t", row, columns) == \
            records.header(config, "t").encode() + text.encode()


@pytest.mark.parametrize("value", [1, True, Decimal("1"), Decimal("1.0"), "1", "true", 1.5, "é", "a\nb", *AWKWARD,
                                   *PLAIN, OrderedDict(a=1), OrderedDict(), [OrderedDict(b="x")]])
def test_equal_values_of_other_types_keep_their_own_text(tmp_path: Path, value: object) -> None:
    """1, True, "1" and Decimal(1) are equal keys: the remembered texts are of str
    only. A float or a subclass of dict takes the direct writer's own path."""
    config = _config(tmp_path)
    renderer = row_render.TableRenderer(config, "t", ["id", "v"])
    for first in ("1", "true", 1, True):  # remembered first, whatever the order of the tests
        renderer({"id": 0, "v": first})
    for row in ({"id": 1, "v": value}, {"id": 1, "v": [value, {"k": value}]}, {"v": value, "id": 2}):
        assert row_render.direct(row) == yamlio._dump_direct(row)  # type: ignore[arg-type]
        assert renderer(row) == records.render(config, "t", row, ["id", "v"])
