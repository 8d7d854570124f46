"""Turning the benchmark's figures into issue 12's goals, issue 18's fleet figures and the printed tables."""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from measure import Figure

# Labels of the measured commands (bench.py measures them, the goals below read them).
PY_PASS = "python -c pass"
VERSION = "configsync --version"
VALIDATE_TINY = "validate, tiny repo (warm)"
PG_DUMP = "pg_dump --data-only"
DUMP_RESTORE = "pg_dump | psql (fresh db)"
WRITE_FLOOR = "write as many files (floor)"
PARSE_FLOOR = "read + parse, CSafeLoader (floor)"
SNAP_FULL = "snapshot (full)"
SNAP_COMMIT = "snapshot --commit (full)"
SNAP_NO_DRIFT = "snapshot (no drift)"
SNAP_NO_DRIFT_AGAIN = "snapshot (no drift, again)"
PLAN_NO_CHANGE = "plan (no change)"
PLAN_NO_CHANGE_AGAIN = "plan (no change, again)"
VALIDATE_COLD = "validate (cold)"
VALIDATE_WARM = "validate (warm)"
PLAN_CHANGED = "plan (1% changed)"
APPLY_CHANGED = "apply (1% changed)"
APPLY_EMPTY = "apply (empty database)"
FLEET_APPLY = "fleet apply, initial (--jobs 8)"
FLEET_PLAN_1 = "fleet plan (--jobs 1)"
FLEET_PLAN_8 = "fleet plan (--jobs 8)"

FLOORS = {PY_PASS, PG_DUMP, DUMP_RESTORE, WRITE_FLOOR, PARSE_FLOOR}
# Commands whose work grows with the rows (the linear-growth goal looks at these).
GROWING = (SNAP_FULL, SNAP_COMMIT, VALIDATE_COLD, APPLY_EMPTY, PLAN_CHANGED, APPLY_CHANGED)
FIXED_COST_GOAL_S = 0.15
MEMORY_GOAL_MB = 1024
GROWTH_NOISE = 1.25  # "linear" allows 25% above the rows' factor: one run per size on a shared machine
GROWTH_MIN_DELTA_S, GROWTH_MIN_DELTA_MB = 0.05, 5.0  # below these the smaller size is flat: no ratio


@dataclass
class Goal:
    """One goal of issue 12 as measured: configsync's figure, its floor, the ratio and whether it is met."""

    goal: str
    value: str
    floor: str
    ratio: float | None
    target: str
    met: bool | None  # None: not measurable in this run (say, one size only)


class Figures:
    def __init__(self, figures: Sequence[Figure]) -> None:
        self.by_key = {(f.shape, f.n, f.command): f for f in figures}

    def get(self, shape: str, n: int, command: str) -> Figure:
        return self.by_key[(shape, n, command)]

    def has(self, shape: str, n: int, command: str) -> bool:
        return (shape, n, command) in self.by_key


def _ratio_goal(goal: str, value: float, floor_text: str, floor: float, limit: float) -> Goal:
    ratio = value / floor if floor > 0 else math.inf
    return Goal(goal, f"{value:.2f} s", f"{floor_text} {floor:.2f} s", ratio, f"≤ {limit:g}×", ratio <= limit)


def fixed_goals(figures: Sequence[Figure]) -> list[Goal]:
    at = {f.command: f for f in figures if f.shape == "fixed"}
    bare = at[PY_PASS].seconds
    goals = []
    for label, command in ((f"fixed cost: `{VERSION}`", VERSION), ("fixed cost: `validate`, tiny repo, warm cache", VALIDATE_TINY)):
        seconds = at[command].seconds
        goals.append(Goal(label, f"{seconds:.3f} s", f"bare `{PY_PASS}` {bare:.3f} s", seconds / bare if bare else None,
                          f"≤ {FIXED_COST_GOAL_S} s", seconds <= FIXED_COST_GOAL_S))
    return goals


def shape_goals(figures: Sequence[Figure], shape: str, sizes: Sequence[int]) -> list[Goal]:
    """The row-count goals for one table set, at its largest size (growth: between the two largest)."""
    fig = Figures(figures)
    n = max(sizes)
    at = {c: fig.get(shape, n, c).seconds for (s, size, c) in fig.by_key if s == shape and size == n}
    where = f"{n:,}"
    dump, restore, parse, write = at[PG_DUMP], at[DUMP_RESTORE], at[PARSE_FLOOR], at[WRITE_FLOOR]
    goals = [
        _ratio_goal(f"no-change plan, N={where}", at[PLAN_NO_CHANGE_AGAIN], "`pg_dump --data-only`", dump, 3),
        _ratio_goal(f"no-drift snapshot, N={where}", at[SNAP_NO_DRIFT_AGAIN], "`pg_dump --data-only`", dump, 3),
        _ratio_goal(f"cold validate (no .configsync/), N={where}", at[VALIDATE_COLD], "read + parse (CSafeLoader)", parse, 0.5),
        _ratio_goal(f"apply into an empty database, N={where}", at[APPLY_EMPTY],
                    f"parse {parse:.2f} s + 2× `pg_dump | psql` {restore:.2f} s =", parse + 2 * restore, 1),
        _ratio_goal(f"full snapshot, N={where}", at[SNAP_FULL],
                    f"write files {write:.2f} s + 2× `pg_dump` {dump:.2f} s =", write + 2 * dump, 1),
        _ratio_goal(f"`snapshot --commit`, N={where}", at[SNAP_COMMIT], "2× full snapshot", 2 * at[SNAP_FULL], 1),
    ]
    commands = [f for f in figures if f.shape == shape and f.n == n and f.command not in FLOORS]
    peak = max(commands, key=lambda f: f.mb)
    goals.append(Goal(f"peak memory, N={where}", f"{peak.mb:.0f} MB", f"({peak.command})", None,
                      f"< {MEMORY_GOAL_MB} MB", peak.mb < MEMORY_GOAL_MB))
    goals += growth_goals(figures, shape, sizes)
    return goals


def growth_pair(sizes: Sequence[int]) -> tuple[int, int] | None:
    """10,000 → 100,000 when both were run, else the two largest sizes."""
    ordered = sorted(sizes)
    if 10_000 in ordered and 100_000 in ordered:
        return 10_000, 100_000
    return (ordered[-2], ordered[-1]) if len(ordered) > 1 else None


def growth_rows(figures: Sequence[Figure], shape: str, sizes: Sequence[int]) -> list[tuple[str, float | None, float | None]]:
    """For each growing command: (command, time ratio, peak-MB ratio), each above the fixed cost
    (a warm tiny validate: interpreter, imports) so that start-up does not hide the growth."""
    pair = growth_pair(sizes)
    if pair is None:
        return []
    small, large = pair
    fig = Figures(figures)
    fixed = fig.get("fixed", 0, VALIDATE_TINY)
    rows = []
    for command in GROWING:
        a, b = fig.get(shape, small, command), fig.get(shape, large, command)
        da_s, da_mb = a.seconds - fixed.seconds, a.mb - fixed.mb
        time_ratio = (b.seconds - fixed.seconds) / da_s if da_s >= GROWTH_MIN_DELTA_S else None
        mb_ratio = (b.mb - fixed.mb) / da_mb if da_mb >= GROWTH_MIN_DELTA_MB else None
        rows.append((command, time_ratio, mb_ratio))
    return rows


def growth_goals(figures: Sequence[Figure], shape: str, sizes: Sequence[int]) -> list[Goal]:
    pair = growth_pair(sizes)
    if pair is None:
        return [Goal("growth linear: time", "one size only", "", None, "", None),
                Goal("growth linear: peak memory", "one size only", "", None, "", None)]
    small, large = pair
    factor = large / small
    limit = factor * GROWTH_NOISE
    rows = growth_rows(figures, shape, sizes)
    goals = []
    for what, ratios in (("time", [(c, t) for c, t, _ in rows]), ("peak memory", [(c, mb) for c, _, mb in rows])):
        measured = [(command, ratio) for command, ratio in ratios if ratio is not None]
        label = f"growth {small:,}→{large:,} linear: {what} above fixed cost"
        if not measured:
            goals.append(Goal(label, "flat at the smaller size", "", None, f"≤ {limit:g}×", None))
            continue
        command, worst = max(measured, key=lambda item: item[1])
        goals.append(Goal(label, f"worst {worst:.1f}× ({command})", f"rows {factor:g}×", worst / factor,
                          f"≤ {factor:g}× (+{GROWTH_NOISE - 1:.0%} noise)", worst <= limit))
    return goals


def _cell(text: str) -> str:
    """Markdown table cell text: a literal | (as in `pg_dump | psql`) would split the cell."""
    return text.replace("|", "\\|")


def goals_table(goals: Sequence[Goal]) -> list[str]:
    lines = ["| goal | configsync | floor in the same run | ratio | target | met |", "|---|---:|---|---:|---|---|"]
    for g in goals:
        ratio = "" if g.ratio is None else f"{g.ratio:.2f}×"
        met = "n/a" if g.met is None else ("**met**" if g.met else "NOT met")
        lines.append(f"| {_cell(g.goal)} | {_cell(g.value)} | {_cell(g.floor)} | {ratio} | {g.target} | {met} |")
    return lines


def figures_table(figures: Sequence[Figure], shape: str) -> list[str]:
    sizes = sorted({f.n for f in figures if f.shape == shape})
    fig = Figures(figures)
    header = "| command | " + " | ".join(f"N={n:,}: s | MB" for n in sizes) + " |"
    lines = [header, "|---|" + "---:|---:|" * len(sizes)]
    commands = dict.fromkeys(f.command for f in figures if f.shape == shape)
    for command in commands:
        cells = []
        for n in sizes:
            if fig.has(shape, n, command):
                f = fig.get(shape, n, command)
                cells.append(f"{f.seconds:.2f} | {f.mb:.0f}")
            else:
                cells.append(" | ")
        lines.append(f"| {_cell(command)} | " + " | ".join(cells) + " |")
    return lines


def growth_table(figures: Sequence[Figure], shape: str, sizes: Sequence[int]) -> list[str]:
    pair = growth_pair(sizes)
    if pair is None:
        return []
    lines = [f"Growth N={pair[0]:,} → {pair[1]:,} (rows ×{pair[1] / pair[0]:g}), above the fixed cost:", "",
             "| command | time × | peak MB × |", "|---|---:|---:|"]
    for command, t, mb in growth_rows(figures, shape, sizes):
        lines.append(f"| {_cell(command)} | {'flat' if t is None else f'{t:.1f}'} | {'flat' if mb is None else f'{mb:.1f}'} |")
    return lines


# -- issue 18: a fleet, and a 1,000-tenant rollout estimated from it -----------------------------

def fleet_table(figures: Sequence[Figure]) -> list[str]:
    lines = ["| command | environments | seconds | s per environment | peak MB (all processes) |",
             "|---|---:|---:|---:|---:|"]
    for f in figures:
        lines.append(f"| {f.command} | {f.n} | {f.seconds:.1f} | {f.seconds / f.n:.2f} | {f.mb:.0f} |")
    return lines


def rollout_estimate(figures: Sequence[Figure], runner_setup: float, tenants: int = 1000,
                     shard_size: int = 10) -> dict[str, Any]:
    """A 1,000-tenant rollout through a sharded matrix (`envs --shards`), from the fleet run here.

    Assumes a runner like this machine (2 cores; GitHub's standard Linux runner for private
    repositories), `runner_setup` seconds per job for start-up, checkout and installing configsync,
    and databases as close as this benchmark's (a Unix socket; a network adds its round trips)."""
    at = {f.command: f for f in figures}
    envs = at[FLEET_PLAN_8].n
    apply_per_env = at[FLEET_APPLY].seconds / envs  # amortised, 8 at a time
    plan_per_env_1 = at[FLEET_PLAN_1].seconds / envs
    plan_per_env_8 = at[FLEET_PLAN_8].seconds / envs
    shards = math.ceil(tenants / shard_size)
    shard_seconds = runner_setup + shard_size * apply_per_env
    # A canary job (one tenant, alone) runs before the matrix; its apply costs about one
    # sequential environment (apply/plan at --jobs 8, scaled to a plan at --jobs 1).
    canary_seconds = runner_setup + plan_per_env_1 * (at[FLEET_APPLY].seconds / at[FLEET_PLAN_8].seconds)
    targets_seconds = runner_setup
    rollouts = []
    for max_parallel in (20, 100):
        rounds = math.ceil(shards / max_parallel)
        wall = targets_seconds + canary_seconds + rounds * shard_seconds
        billed = 2 * math.ceil(max(targets_seconds, canary_seconds) / 60) + shards * math.ceil(shard_seconds / 60)
        rollouts.append({"max_parallel": max_parallel, "runners_at_once": min(max_parallel, shards), "rounds": rounds,
                         "wall_minutes": wall / 60, "billed_runner_minutes": billed})
    return {
        "tenants": tenants, "shards": shards, "shard_size": shard_size, "jobs_per_shard": shard_size,
        "measured_environments": envs, "runner_setup_seconds": runner_setup,
        "apply_seconds_per_env_jobs8": apply_per_env, "plan_seconds_per_env_jobs1": plan_per_env_1,
        "plan_seconds_per_env_jobs8": plan_per_env_8, "shard_minutes": shard_seconds / 60,
        "matrix": rollouts,
        "one_runner_apply_minutes": (runner_setup + tenants * apply_per_env) / 60,
        "one_job_plan_minutes": (runner_setup + tenants * plan_per_env_8) / 60,
    }


def estimate_lines(e: dict[str, Any]) -> list[str]:
    lines = [
        f"Estimate: {e['tenants']:,} tenants, `configsync envs --shards {e['shards']}` → {e['shards']} matrix jobs of "
        f"{e['shard_size']}, each `apply --env \"$SHARD\" --jobs {e['jobs_per_shard']} --yes`, after a canary job. From this run: "
        f"apply {e['apply_seconds_per_env_jobs8']:.2f} s per environment (8 at a time), plan "
        f"{e['plan_seconds_per_env_jobs1']:.2f} s (one at a time) / {e['plan_seconds_per_env_jobs8']:.2f} s (8 at a time); "
        f"{e['runner_setup_seconds']:.0f} s per job for runner start, checkout and install (assumed); a 2-core runner; "
        f"one shard ≈ {e['shard_minutes']:.1f} min.",
        "",
        "| max-parallel | runners at once | rounds of shards | wall time | billed runner-minutes |",
        "|---:|---:|---:|---:|---:|",
    ]
    for r in e["matrix"]:
        lines.append(f"| {r['max_parallel']} | {r['runners_at_once']} | {r['rounds']} | {r['wall_minutes']:.1f} min | "
                     f"{r['billed_runner_minutes']} |")
    lines += ["", f"For comparison, one runner applying all {e['tenants']:,} with `--jobs 8`: "
              f"{e['one_runner_apply_minutes']:.0f} min; the PR plan workflow (one job, `--jobs 8`) plans them in "
              f"{e['one_job_plan_minutes']:.0f} min."]
    return lines
