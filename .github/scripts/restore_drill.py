"""The restore drill of config-restore-drill.yml: build a database, then report on the drill.

    restore_drill.py schema   build the empty database at $CONFIGSYNC_DATABASE_URL from SQL files
    restore_drill.py report   the job summary: revision, tables and their row counts, seconds, result

``schema`` takes the files from $CONFIGSYNC_DRILL_SCHEMA: glob patterns relative to the
repository, separated by spaces, applied pattern by pattern (the files of one pattern
in file-name order, as Supabase orders its timestamped migrations). Empty: the files
of ``supabase/migrations/*.sql``, else ``schema.sql``. Each file goes through
``psql -v ON_ERROR_STOP=1``, so a schema dump's psql commands work and an error names
the file and line. Before the first file, the roles Supabase creates for every project
(anon, authenticated, service_role) are created when missing: migrations grant to them.
Step output ``started``: when the build began (seconds since the epoch).

``report`` reads the outcomes of the drill's steps from VALIDATE_OUTCOME, SCHEMA_OUTCOME, APPLY_OUTCOME,
PLAN_OUTCOME, PLAN_CHANGES, CONVERGED_OUTCOME and STATUS_OUTCOME, and STARTED; it
counts the rows of every table in configsync.yaml (so it runs with the action's
Python, which has configsync and psycopg) and exits 1 when the drill failed.

The output of psql (messages quoting the SQL files) is fenced with ::stop-commands::,
so nothing in a schema file can act as a workflow command.
"""
from __future__ import annotations

import glob
import os
import secrets
import subprocess
import time
from pathlib import Path
from typing import Any

from ghapi import ScriptError, add_summary, annotate, git, main_guard, script_parser, set_output

DEFAULT_SCHEMA = ("supabase/migrations/*.sql", "schema.sql")
TITLE = "restore drill"
# The roles every Supabase project has; CREATE ROLE has no IF NOT EXISTS, and a role
# belongs to the whole server, so another database of the same server may hold it.
SUPABASE_ROLES = """\
DO $drill$
DECLARE
  name text;
BEGIN
  FOREACH name IN ARRAY ARRAY['anon', 'authenticated', 'service_role'] LOOP
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = name) THEN
      EXECUTE format('CREATE ROLE %I NOLOGIN NOINHERIT', name);
    END IF;
  END LOOP;
END
$drill$;
"""
# The steps in order, each with what its failure means (for the summary and the error).
STEPS = (
    ("VALIDATE_OUTCOME", "configsync validate"),
    ("SCHEMA_OUTCOME", "building the database from the schema"),
    ("APPLY_OUTCOME", "configsync apply"),
    ("PLAN_OUTCOME", "configsync plan"),
    ("CONVERGED_OUTCOME", "the second plan (apply did not converge)"),
    ("STATUS_OUTCOME", "configsync status"),
)


def schema_files(spec: str, root: Path) -> list[Path]:
    """The SQL files ``spec`` names (see the module doc), relative to ``root``."""
    patterns = spec.split()
    if not patterns:
        for pattern in DEFAULT_SCHEMA:
            found = _matches(pattern, root)
            if found:
                return found
        raise ScriptError(
            f"no schema to build the database from: CONFIGSYNC_DRILL_SCHEMA is empty and the repository has no "
            f"{' and no '.join(DEFAULT_SCHEMA)}. Set the repository variable CONFIGSYNC_DRILL_SCHEMA (Settings → "
            "Secrets and variables → Actions → Variables) to your migrations or schema dump, e.g. `db/schema.sql`."
        )
    files: list[Path] = []
    for pattern in patterns:
        if pattern.startswith("/") or ".." in Path(pattern).parts:
            raise ScriptError(f"CONFIGSYNC_DRILL_SCHEMA: {pattern!r} is not a path inside the repository")
        found = _matches(pattern, root)
        if not found:
            raise ScriptError(f"CONFIGSYNC_DRILL_SCHEMA: {pattern!r} matches no file in the repository")
        files += [f for f in found if f not in files]
    return files


def _matches(pattern: str, root: Path) -> list[Path]:
    found = [Path(p) for p in glob.glob(pattern, root_dir=root, recursive=True)]
    return sorted((p for p in found if (root / p).is_file()), key=lambda p: (p.name, p.as_posix()))


def psql(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, *args],
                              capture_output=True, text=True, check=False)
    except OSError as exc:
        raise ScriptError(f"cannot run psql (the PostgreSQL client, on GitHub's Ubuntu runners): {exc}") from None


def echo_fenced(text: str) -> None:
    if text.strip():
        token = secrets.token_hex(16)
        print(f"::stop-commands::{token}\n{text.rstrip()}\n::{token}::", flush=True)


def build_schema() -> int:
    url = _database()
    root = Path.cwd()
    files = schema_files(os.environ.get("CONFIGSYNC_DRILL_SCHEMA", ""), root)
    set_output("started", f"{time.time():.3f}")
    set_output("files", " ".join(f.as_posix() for f in files))
    proc = psql(url, "-c", SUPABASE_ROLES)
    echo_fenced(proc.stdout + proc.stderr)
    if proc.returncode:
        raise ScriptError("cannot create the Supabase roles in the drill's database: see psql's message above")
    for file in files:
        print(f"psql -f {file.as_posix()}", flush=True)
        proc = psql(url, "-f", file.as_posix())
        echo_fenced(proc.stdout + proc.stderr)
        if proc.returncode:
            first = next((line for line in proc.stderr.splitlines() if "ERROR:" in line), proc.stderr.strip())
            raise ScriptError(
                f"{file.as_posix()} does not apply to an empty PostgreSQL database: {first[:500]} "
                "(the drill builds the database from CONFIGSYNC_DRILL_SCHEMA, see docs/github-actions.md)"
            )
    print(f"Built the database from {len(files)} file(s).")
    return 0


def _database() -> str:
    url = os.environ.get("CONFIGSYNC_DATABASE_URL", "").strip()
    if not url:
        raise ScriptError("CONFIGSYNC_DATABASE_URL is empty: the drill's database is the job's service container")
    return url


def row_counts(url: str) -> list[tuple[str, str]]:
    """Each table of configsync.yaml with its number of rows ("missing" when the schema lacks it)."""
    import psycopg
    from configsync.config import load_config
    from psycopg import sql

    tables = list(load_config().tables)
    counts = []
    with psycopg.connect(url, autocommit=True) as conn:
        for table in tables:
            name = sql.SQL(".").join(sql.Identifier(part) for part in table.split("."))
            try:
                row: Any = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(name)).fetchone()
                counts.append((table, str(row[0])))
            except psycopg.Error:
                counts.append((table, "missing"))
    return counts


def report() -> int:
    failed = next((what for variable, what in STEPS if os.environ.get(variable) == "failure"), None)
    if failed is None and os.environ.get("PLAN_CHANGES") == "true":
        failed = STEPS[4][1]
    complete = all(os.environ.get(variable) == "success" for variable, _ in STEPS if variable != "CONVERGED_OUTCOME")
    result = "failed" if failed else ("passed" if complete else "incomplete")
    revision = git("rev-parse", "HEAD", check=False) or os.environ.get("GITHUB_SHA", "")
    started = os.environ.get("STARTED", "")
    seconds = f"{time.time() - float(started):.1f}" if started else "–"
    lines = [f"### configsync {TITLE}: {result}", "",
             "| | |", "|---|---|",
             f"| revision | `{revision or 'unknown'}` |",
             f"| schema | {_code_list(os.environ.get('SCHEMA_FILES', ''))} |",
             f"| seconds | {seconds} (from building the schema to this report) |",
             f"| result | {result}{f': {failed} failed' if failed else ''} |", ""]
    try:
        counts = row_counts(_database()) if os.environ.get("SCHEMA_OUTCOME") == "success" else []
    except Exception as exc:  # the report must not hide the drill's result behind its own error
        counts = []
        lines.append(f"Row counts unavailable: {type(exc).__name__}.")
    if counts:
        lines += ["| table | rows |", "|---|---:|", *(f"| `{table}` | {count} |" for table, count in counts)]
    add_summary("\n".join(lines))
    print("\n".join(lines))
    if failed:
        annotate("error", f"The restore drill of {revision[:12]} failed at {failed}: its error is above in the log.",
                 title=TITLE)
        return 1
    if not complete:
        annotate("error", "The restore drill did not run to the end: see the steps above.", title=TITLE)
        return 1
    return 0


def _code_list(text: str) -> str:
    names = text.split()
    shown = ", ".join(f"`{name.replace('`', '').replace('|', '%7C')}`" for name in names[:20])
    return shown + (f" and {len(names) - 20} more" if len(names) > 20 else "") if names else "–"


def main() -> int:
    parser = script_parser(__doc__)
    parser.add_argument("command", choices=("schema", "report"))
    args = parser.parse_args()
    return build_schema() if args.command == "schema" else report()


if __name__ == "__main__":
    main_guard(main)
