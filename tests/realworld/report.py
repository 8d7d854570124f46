"""Run every step of every real-world schema's cycle, not stopping at the first
failure, and print which steps pass and fail with the exact messages.

    .venv/bin/python tests/realworld/report.py [--sqlite] [SCHEMA ...]

Uses $CONFIGSYNC_TEST_DATABASE_URL or a throwaway PostgreSQL server, like the tests.
A step whose prerequisite failed is shown as "not run".
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from cycle import SCHEMAS, SQLITE_SCHEMAS, STEPS, Cycle, Schema, create_databases, run_cycle  # noqa: E402
from helpers import new_repo  # noqa: E402
from support import postgres  # noqa: E402


def main(names: list[str]) -> int:
    sqlite = "--sqlite" in names
    names = [n for n in names if n != "--sqlite"] or (SQLITE_SCHEMAS if sqlite else SCHEMAS)
    home = tempfile.TemporaryDirectory(prefix="realworld-home-")
    os.environ.update(HOME=home.name, XDG_CONFIG_HOME=home.name, GIT_CONFIG_NOSYSTEM="1")
    for name in ("CONFIGSYNC_DATABASE_URL", "GITHUB_ACTOR", "SUPABASE_DB_URL"):
        os.environ.pop(name, None)
    table: dict[str, dict[str, str]] = {}
    with postgres.start_server() as server, tempfile.TemporaryDirectory() as tmp:
        for name in names:
            began = time.monotonic()
            source_db, copy_db = f"cs_{uuid.uuid4().hex[:12]}", f"cs_copy_{uuid.uuid4().hex[:12]}"
            if sqlite:
                source, copy = f"sqlite:///{tmp}/{source_db}.db", f"sqlite:///{tmp}/{copy_db}.db"
            else:
                source, copy = postgres.create_database(server, source_db), postgres.create_database(server, copy_db)
            try:
                schema = Schema.load(name, backend="sqlite" if sqlite else "postgres")
                create_databases(schema, source, copy)
                cycle = Cycle(schema, new_repo(Path(tmp) / name), source, copy)
                outcomes = run_cycle(cycle, keep_going=True)
            finally:
                if not sqlite:
                    postgres.drop_database(server, source_db)
                    postgres.drop_database(server, copy_db)
            table[name] = {o.step: ("ok" if o.ok else "FAIL: " + o.detail) for o in outcomes}
            print(f"\n## {name} ({time.monotonic() - began:.1f}s)")
            for step in STEPS:
                print(f"  {step:20} {table[name].get(step, '?')}")
    print("\n| schema | " + " | ".join(STEPS) + " |")
    print("|---" * (len(STEPS) + 1) + "|")
    for name, steps in table.items():
        cells = ["pass" if steps.get(s) == "ok" else ("—" if "not run" in steps.get(s, "") else "FAIL") for s in STEPS]
        print(f"| {name} | " + " | ".join(cells) + " |")
    home.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
