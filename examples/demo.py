"""`make demo`: configsync's main job on the embedded SQLite default.

In a scratch config repository (.configsync/demo, a copy of this repository's
Moose example) it creates the three Moose tables in .configsync/local.db,
applies the example snapshot, reviews and applies an edit, rolls it back with
`configsync rollback`, and checks there is no drift. Every command is printed
with its output and exit code. Nothing outside .configsync/demo is touched.
"""
from __future__ import annotations

import os
import shlex
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / ".configsync" / "demo"
CONFIGSYNC = [sys.executable, "-m", "configsync"]
ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "configsync demo", "GIT_AUTHOR_EMAIL": "demo@localhost",
    "GIT_COMMITTER_NAME": "configsync demo", "GIT_COMMITTER_EMAIL": "demo@localhost",
    "NO_COLOR": "1",
}
ENV.pop("CONFIGSYNC_DATABASE_URL", None)


def step(title: str) -> None:
    print(f"\n\033[1m== {title}\033[0m" if sys.stdout.isatty() else f"\n== {title}", flush=True)


def sh(*args: str, expect: tuple[int, ...] = (0,)) -> int:
    # Shown as a person would type it: `configsync ...`, arguments quoted where needed.
    words = ["configsync", *args[len(CONFIGSYNC):]] if list(args[:len(CONFIGSYNC)]) == CONFIGSYNC else list(args)
    print(f"$ {shlex.join(words)}", flush=True)
    code = subprocess.run(list(args), cwd=DEMO, env=ENV).returncode
    if code not in expect:
        print(f"demo failed: exit code {code}, expected {expect}", file=sys.stderr)
        sys.exit(1)
    if code:
        print(f"(exit {code})")
    return code


def configsync(*args: str, expect: tuple[int, ...] = (0,)) -> int:
    return sh(*CONFIGSYNC, *args, expect=expect)


def git(*args: str) -> None:
    sh("git", *args)


def main() -> None:
    step(f"A scratch config repository in {DEMO.relative_to(ROOT)}")
    shutil.rmtree(DEMO, ignore_errors=True)
    DEMO.mkdir(parents=True)
    for name in ("configsync.yaml", "schemas", "config-snapshots"):
        source = ROOT / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, DEMO / name)
    (DEMO / ".gitignore").write_text(".configsync/\n")
    git("init", "--quiet", "--initial-branch=main")
    git("add", ".")
    git("commit", "--quiet", "-m", "Moose config tables, from the 2025-10-03 backup")

    step("Create the Moose tables in the embedded database .configsync/local.db")
    db = DEMO / ".configsync" / "local.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(db) as conn:
        conn.executescript((ROOT / "examples/moose/schema.sqlite.sql").read_text())
    print("tables: system_config, proposer_configs, contracts (empty)")

    step("Apply the example snapshot (every row is created)")
    configsync("plan", expect=(2,))
    configsync("apply", "--yes")

    step("Review an edit: lower the daily hard cap from 50 to 40")
    budget = DEMO / "config-snapshots/system_config/budget_limits.yaml"
    budget.write_text(budget.read_text().replace("daily_hard_cap: 50", "daily_hard_cap: 40"))
    configsync("validate")
    git("commit", "--quiet", "-am", "Lower the daily hard cap to 40 USD")
    configsync("plan", expect=(2,))
    configsync("apply", "--yes")
    configsync("status")

    step("Roll it back: git revert + apply, in one command")
    configsync("rollback", "HEAD", "--yes")
    configsync("snapshot")
    git("log", "--oneline")
    with sqlite3.connect(db) as conn:
        (value,) = conn.execute(
            "SELECT json_extract(config_value, '$.daily_hard_cap') FROM system_config "
            "WHERE config_key = 'budget_limits'"
        ).fetchone()
    print(f"\nbudget_limits.daily_hard_cap in the database: {value}")
    if value != 50:
        sys.exit("demo failed: the rollback did not restore 50")
    print("Done: the database is back at the reviewed state, and git records the change and its undo.")


if __name__ == "__main__":
    main()
