"""`make bench` at tiny sizes: every goal of issue 12 and the fleet figures of issue 18 are
printed, and bench.json holds them. Timings are not asserted (a loaded machine makes them noise)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

GOAL_ROWS = (
    "fixed cost: `configsync --version`",
    "fixed cost: `validate`, tiny repo, warm cache",
    "no-change plan, N=500",
    "no-drift snapshot, N=500",
    "cold validate (no .configsync/), N=500",
    "apply into an empty database, N=500",
    "full snapshot, N=500",
    "`snapshot --commit`, N=500",
    "peak memory, N=500",
    "growth 50→500 linear: time above fixed cost",
    "growth 50→500 linear: peak memory above fixed cost",
)


@pytest.mark.postgres
def test_bench_prints_every_goal_and_writes_bench_json(pg_server: str, tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "cli"), "CONFIGSYNC_TEST_DATABASE_URL": pg_server}
    done = subprocess.run(
        [sys.executable, str(ROOT / "tests/bench/bench.py"), "--sizes", "50,500", "--shapes", "independent,moose",
         "--envs", "2", "--json", str(out)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1200, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    table = done.stdout
    for shape in ("independent", "moose"):
        section = table.split(f"## Goals, {shape} table set")[1].split("\n## ")[0]
        rows = [line for line in section.splitlines() if line.startswith("| ")]
        for goal in GOAL_ROWS:
            matching = [row for row in rows if row.startswith(f"| {goal} |")]
            assert len(matching) == 1, f"{shape}: no goal row {goal!r} in\n{section}"
            assert matching[0].rstrip().endswith(("| **met** |", "| NOT met |", "| n/a |")), matching[0]
    for fleet_row in ("| fleet plan (--jobs 1) | 2 |", "| fleet plan (--jobs 8) | 2 |", "| fleet apply, initial (--jobs 8) | 2 |"):
        assert fleet_row in table
    assert "Estimate: 1,000 tenants, `configsync envs --shards 100` → 100 matrix jobs of 10" in table

    data = json.loads(out.read_text())
    assert data["sizes"] == [50, 500] and data["shapes"] == ["independent", "moose"]
    measured = {(f["shape"], f["n"], f["command"]) for f in data["figures"]}
    assert ("independent", 500, "apply (empty database)") in measured and ("moose", 50, "validate (cold)") in measured
    assert all(f["seconds"] > 0 and f["mb"] > 0 for f in data["figures"] + data["fleet"])
    assert [len(data["goals"][k]) for k in ("fixed", "independent", "moose")] == [2, len(GOAL_ROWS) - 2, len(GOAL_ROWS) - 2]
    assert {m["max_parallel"] for m in data["estimate"]["matrix"]} == {20, 100}
