"""The apply path's shortcuts against what they stand for (pure).

values.dumps_each encodes many values in one call of the C encoder and cuts
the text apart: each piece must be exactly values.dumps of its item. A plan's
checksum, computed from it, must be the one a change-by-change dumps gives
(saved plans and history rows name their plan by it). The backup of a table
apply finds empty is every file of it removed, as the diff would say."""
from __future__ import annotations

import hashlib
from decimal import Decimal
from pathlib import Path
from typing import Any

import pygit2
import pytest
from configsync import values
from configsync.baseline import Baseline
from configsync.changes import Change
from configsync.plan import Plan
from helpers import execute, run
from hypothesis import given, settings
from hypothesis import strategies as st

TEXTS = st.one_of(
    st.text(max_size=8),
    st.sampled_from(["", ",", '"', "\x00", "\\u0000", '","', "]", "[", "\x00abc-\x00", ',"\\u0000', "é", "\u2028"]),
)
DECIMALS = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False, places=None),
    st.sampled_from([Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity"), Decimal("1E+2"), Decimal("-0"),
                     Decimal("0.70")]),
)
LEAVES = st.one_of(st.none(), st.booleans(), st.integers(), DECIMALS, TEXTS)
VALUES = st.recursive(LEAVES, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                      st.dictionaries(TEXTS, inner, max_size=4)), max_leaves=12)


@settings(max_examples=300)
@given(st.lists(VALUES, max_size=6), st.booleans())
def test_dumps_each_is_dumps_of_each(items: list[Any], sort_keys: bool) -> None:
    assert values.dumps_each(items, sort_keys=sort_keys) == [values.dumps(v, sort_keys=sort_keys) for v in items]


def test_dumps_each_refuses_what_dumps_refuses() -> None:
    with pytest.raises(TypeError, match="not a configsync value: object"):
        values.dumps([1, object()])
    with pytest.raises(TypeError, match="not a configsync value: object"):
        values.dumps_each([1, object()])
    assert values.dumps_each([]) == []


def _checksum_one_by_one(plan: Plan) -> str:
    """Plan.checksum as it was written before dumps_each (the reference)."""
    body: dict[str, Any] = {"revision": plan.revision, "database": plan.database, "tables": plan.tables,
                            "keys": plan.keys, "fingerprints": plan.fingerprints}
    if plan.digests:
        body["digests"] = plan.digests
    if plan.baseline is not None:
        body["baseline"] = plan.baseline.to_json()
    digest = hashlib.sha256(values.dumps(body, sort_keys=True).encode("utf-8"))
    for change in plan.changes:
        digest.update(b"\n" + values.dumps(change.to_json(), sort_keys=True).encode("utf-8"))
    return digest.hexdigest()


ROWS = st.dictionaries(st.sampled_from(["k", "v", "doc", "n", "é"]), VALUES, max_size=4)


@st.composite
def changes(draw: st.DrawFn) -> Change:
    action = draw(st.sampled_from(["create", "update", "delete"]))
    before = None if action == "create" else draw(ROWS)
    after = None if action == "delete" else draw(ROWS)
    fields = tuple(draw(st.lists(st.sampled_from(["v", "doc"]), max_size=2, unique=True))) if action == "update" else ()
    return Change(action, draw(st.sampled_from(["t", "u"])), {"k": draw(LEAVES)}, f"config-snapshots/t/{draw(TEXTS)}.yaml",
                  before, after, fields, draw(st.sampled_from(["git", "drift", "conflict"])))


@settings(max_examples=200)
@given(st.lists(changes(), max_size=8))
def test_checksum_is_the_change_by_change_one(items: list[Change]) -> None:
    plan = Plan(items, "r" * 40, "HEAD", "postgresql://db", ["t", "u"], {"t": ["k"], "u": ["k"]},
                {"t": {"[1]": "ab"}}, {"t": "3:abc"}, baseline=Baseline(None, "no baseline"))
    assert plan.checksum() == _checksum_one_by_one(plan)


def test_checksum_over_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """More changes than one encoding call takes: the chunks join into the same digest."""
    from configsync import plan as plan_module

    monkeypatch.setattr(plan_module, "CHECKSUM_CHUNK", 3)
    items = [Change("create", "t", {"k": i}, f"config-snapshots/t/{i}.yaml", None,
                    {"k": i, "v": Decimal(i) / 7, "doc": {"a": [i, "x"]}}) for i in range(10)]
    plan = Plan(items, "r" * 40, "HEAD", "postgresql://db", ["t"], {"t": ["k"]}, {"t": {}})
    assert plan.checksum() == _checksum_one_by_one(plan)


def test_the_backup_of_an_emptied_table_removes_each_of_its_files(repo_path: Path, moose_url: str) -> None:
    """A table apply finds empty (a restore) is backed up without diffing it
    row by row: the backup is the revision's tree without that table's files."""
    assert run(repo_path, "snapshot", "--commit", database=moose_url).code == 2
    execute(moose_url, "DELETE FROM proposer_configs")
    result = run(repo_path, "apply", "--yes", database=moose_url)
    assert result.code == 0, result.text
    repo = pygit2.Repository(str(repo_path))
    ref = next(line.split(": ", 1)[1] for line in result.out.splitlines() if line.startswith("Backup of"))
    backup = repo.references[ref].peel(pygit2.Commit)
    revision = repo[repo.head.target]

    def files(tree: pygit2.Tree, prefix: str = "") -> dict[str, str]:
        found = {}
        for entry in tree:
            if entry.type_str == "tree":
                found.update(files(repo[entry.id], f"{prefix}{entry.name}/"))  # type: ignore[arg-type]
            else:
                found[prefix + entry.name] = str(entry.id)
        return found

    before, kept = files(revision.tree), files(backup.tree)
    removed = {path for path in before if path.startswith("config-snapshots/proposer_configs/")}
    assert len(removed) == 2
    assert kept == {path: blob for path, blob in before.items() if path not in removed}
