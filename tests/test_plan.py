"""The diff, modes, FK ordering, safety limits, stale checks and plan files (pure)."""
from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from configsync import plan as plan_module
from configsync.changes import changes, for_mode
from configsync.errors import StalePlanError, UnsafePlanError
from configsync.plan import Plan, fingerprint, order_tables
from configsync.records import Record, TableRecords


def records(*rows: dict[str, object]) -> TableRecords:
    return {
        (row["k"],): Record("t", (row["k"],), dict(row), f"config-snapshots/t/{row['k']}.yaml")  # type: ignore[arg-type]
        for row in rows
    }


def test_changes_create_update_delete_and_equal_values() -> None:
    desired = records({"k": "a", "v": Decimal("0.7")}, {"k": "b", "v": 2}, {"k": "new", "v": 1})
    actual = records({"k": "a", "v": Decimal("0.70"), "id": 1}, {"k": "b", "v": 3}, {"k": "gone", "v": 1})
    found = changes("t", desired, actual, ["k"], {"v": "numeric"})
    assert [(c.action, c.key["k"]) for c in found] == [("update", "b"), ("delete", "gone"), ("create", "new")]
    update = found[0]
    assert update.fields == ("v",)
    assert update.before == {"k": "b", "v": 3}
    assert update.after == {"k": "b", "v": 2}


def test_absent_columns_are_unmanaged_in_plans_but_differ_between_revisions() -> None:
    desired = records({"k": "a"})
    actual = records({"k": "a", "id": "generated"})
    assert changes("t", desired, actual, ["k"]) == []
    (change,) = changes("t", desired, actual, ["k"], missing_fields_differ=True)
    assert change.fields == ("id",)


def test_booleans_never_equal_numbers() -> None:
    assert changes("t", records({"k": "a", "v": True}), records({"k": "a", "v": 1}), ["k"])


def test_modes() -> None:
    found = changes("t", records({"k": "a", "v": 2}, {"k": "c"}), records({"k": "a", "v": 1}, {"k": "b"}), ["k"])
    assert {c.action for c in for_mode(found, "reconcile")} == {"create", "update", "delete"}
    assert {c.action for c in for_mode(found, "upsert")} == {"create", "update"}
    assert {c.action for c in for_mode(found, "seed")} == {"create"}
    assert {c.action for c in for_mode(found, "reconcile", prune=False)} == {"create", "update"}


def test_parents_before_children() -> None:
    assert order_tables(["child", "other", "parent"], {"child": ["parent"]}) == ["parent", "child", "other"]
    # a cycle keeps the given order instead of looping
    assert order_tables(["a", "b"], {"a": ["b"], "b": ["a"]}) == ["b", "a"]


def make_plan(desired: TableRecords, actual: TableRecords) -> Plan:
    return Plan(
        changes=changes("t", desired, actual, ["k"]),
        revision="0" * 40,
        ref="HEAD",
        database="sqlite:///db",
        tables=["t"],
        keys={"t": ["k"]},
        fingerprints={"t": fingerprint(actual)},
    )


def many(n: int) -> TableRecords:
    return records(*({"k": f"r{i}"} for i in range(n)))


def test_emptying_a_table_is_refused_unless_allowed() -> None:
    plan = make_plan({}, many(1))
    with pytest.raises(UnsafePlanError, match="would delete all 1 rows"):
        plan.raise_if_unsafe()
    plan.raise_if_unsafe(allow_mass_delete=True)
    # replacing the only row is not emptying the table
    make_plan(records({"k": "new"}), many(1)).raise_if_unsafe()


def test_deleting_a_large_share_is_refused() -> None:
    actual = many(10)

    def keep(n: int) -> Plan:
        return make_plan(dict(list(actual.items())[:n]), actual)

    with pytest.raises(UnsafePlanError, match="delete 7 of 10"):
        keep(3).raise_if_unsafe()
    keep(7).raise_if_unsafe()  # exactly 30% is allowed
    keep(8).raise_if_unsafe()
    with pytest.raises(UnsafePlanError, match="more than --max-deletes 1"):
        keep(8).raise_if_unsafe(max_deletes=1)
    keep(3).raise_if_unsafe(max_deletes=7)  # an explicit limit replaces the 30% rule
    keep(3).raise_if_unsafe(allow_mass_delete=True)


def test_stale_plan_names_what_changed() -> None:
    actual = records({"k": "a", "v": 1}, {"k": "b", "v": 1})
    plan = make_plan(records({"k": "a", "v": 2}, {"k": "b", "v": 1}), actual)
    plan.check_fresh({"t": actual})
    now = records({"k": "a", "v": 1}, {"k": "b", "v": 5}, {"k": "c"})
    with pytest.raises(StalePlanError) as info:
        plan.check_fresh({"t": now})
    assert "t b: changed" in str(info.value)
    assert "t c: created" in str(info.value)
    assert "t a" not in str(info.value)


def test_plan_file_round_trip_and_tamper_check(tmp_path: Path) -> None:
    plan = make_plan(records({"k": "a", "v": Decimal("12345678901234567890.5")}), records({"k": "a", "v": 1}))
    path = tmp_path / "plan.json"
    plan.save(path)
    loaded = plan_module.load(path)
    assert loaded.changes == plan.changes
    assert loaded.checksum() == plan.checksum()
    assert loaded.changes[0].after["v"] == Decimal("12345678901234567890.5")  # type: ignore[index]
    data = json.loads(path.read_text())
    data["changes"][0]["after"]["v"] = 3
    path.write_text(json.dumps(data))
    with pytest.raises(plan_module.PlanFileError, match="modified after it was made"):
        plan_module.load(path)
    path.write_text("{not json")
    with pytest.raises(plan_module.PlanFileError, match="not a configsync plan file"):
        plan_module.load(path)


def test_json_summary_shape() -> None:
    plan = make_plan(records({"k": "a"}), records())
    data = plan.to_json()
    assert data["summary"] == {"create": 1, "update": 0, "delete": 0, "total": 1}
    assert set(data["changes"][0]) == {"table", "action", "key", "file", "before", "after", "kind"}


def test_a_mapping_in_a_diff_is_shown_in_one_key_order_on_both_sides() -> None:
    """The database gives a jsonb mapping in its own key order, a file sorted:
    the plan shows both sorted, so only real differences stand out."""
    from configsync.changes import Change
    from configsync.render import field_diffs

    before = {"config_value": {"limits": {"z": 1, "a": 2}}}
    after = {"config_value": {"limits": [{"b": 1, "a": 2}]}}
    change = Change("update", "system_config", {"config_key": "k"}, "k.yaml", before, after, ("config_value",))
    assert list(field_diffs(change)) == [("config_value.limits", '{"a":2,"z":1}', '[{"a":2,"b":1}]')]
