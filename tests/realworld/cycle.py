"""The adoption cycle every real-world schema must survive, step by step.

A schema file ``tests/realworld/<name>.sql`` holds, in this order:

* a docstring-like ``/* ... */`` comment naming the public project and file it follows;
* a ``/* @cycle ... */`` comment whose body is YAML: the three changes a person makes
  after adoption (paths are relative to ``config-snapshots/``)::

      edit:   {file: features/checkout.yaml, replace: ["old text", "new text"]}
      create: {file: features/dark-mode.yaml, record: {name: dark-mode, ...}}
      delete: {file: features/legacy.yaml}

  ``record`` leaves out every column the database assigns (serial, identity, uuid
  defaults, generated columns): the file a person would write;
* the DDL, then a line ``-- @seed`` and the seed rows. The "empty copy" is a second
  database made from the DDL alone.

The steps (``STEPS``) are run through the CLI exactly like a user, with ``run()``:

    init --all -> validate -> plan (empty) -> apply to the empty copy ->
    every managed column equal in both databases -> edit, create, delete, commit ->
    apply -> plan (empty) -> snapshot (exit 0) -> git status clean

``run_cycle`` stops at the first failing step and raises ``StepFailed`` naming the
step, the command, its exit code and output; ``run_cycle(..., keep_going=True)``
runs every step it can and returns every outcome (used by ``report.py``).
"""
from __future__ import annotations

import datetime as dt
import json
import math
import re
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pygit2
import yaml
from helpers import Result, commit_all, is_clean, run

HERE = Path(__file__).resolve().parent
SCHEMAS = sorted(p.stem for p in HERE.glob("*.sql") if not p.name.endswith(".sqlite.sql"))
# Schemas that also have <name>.sqlite.sql: the same tables in SQLite's types (the
# cycle block and the leading comment come from <name>.sql).
SQLITE_SCHEMAS = sorted(p.name.removesuffix(".sqlite.sql") for p in HERE.glob("*.sqlite.sql"))

STEPS = (
    "init",
    "validate",
    "plan-empty",
    "apply-to-copy",
    "columns-equal",
    "edit-create-delete",
    "apply-changes",
    "plan-empty-after",
    "snapshot",
    "git-clean",
)


@dataclass
class Schema:
    name: str
    ddl: str
    seed: str
    cycle: dict[str, Any]
    follows: str

    @classmethod
    def load(cls, name: str, backend: str = "postgres") -> Schema:
        text = (HERE / f"{name}.sql").read_text()
        found = re.search(r"/\* @cycle\n(.*?)\*/", text, re.S)
        assert found, f"{name}.sql: no /* @cycle ... */ block"
        head = re.match(r"\s*/\*(.*?)\*/", text, re.S)
        source = f"{name}.sqlite.sql" if backend == "sqlite" else f"{name}.sql"
        ddl, marker, seed = (HERE / source).read_text().partition("\n-- @seed\n")
        assert marker, f"{source}: no '-- @seed' line separating the DDL from the seed rows"
        return cls(name, ddl, seed, yaml.safe_load(found.group(1)), head.group(1).strip() if head else "")


@dataclass
class Outcome:
    step: str
    ok: bool
    detail: str = ""


@dataclass
class Cycle:
    schema: Schema
    repo: Path
    source: str  # URL of the seeded database
    copy: str  # URL of the database made from the DDL alone
    outcomes: list[Outcome] = field(default_factory=list)


class StepFailed(AssertionError):
    """A step of the cycle failed; ``step`` names it (set by run_cycle)."""

    step = ""


def create_databases(schema: Schema, source: str, copy: str) -> None:
    if source.startswith("sqlite"):
        for url, script in ((source, schema.ddl + schema.seed), (copy, schema.ddl)):
            conn = sqlite3.connect(url.removeprefix("sqlite:///"))
            conn.executescript(script)
            conn.commit()
            conn.close()
        return
    with psycopg.connect(source, autocommit=True) as conn:
        conn.execute(schema.ddl)  # type: ignore[arg-type]
        conn.execute(schema.seed)  # type: ignore[arg-type]
    with psycopg.connect(copy, autocommit=True) as conn:
        conn.execute(schema.ddl)  # type: ignore[arg-type]


def _shown(result: Result, limit: int = 900) -> str:
    """The command's error output, then the end of its standard output (where a
    summary or the failing record is), squeezed onto one line."""
    err, out = " ".join(result.err.split()), " ".join(result.out.split())
    room = max(limit - len(err), 200)
    tail = out if len(out) <= room else "... " + out[-room:]
    return (f"stderr: {err} " if err else "") + (f"stdout: {tail}" if out else "")


def expect(command: list[str], result: Result, codes: tuple[int, ...]) -> None:
    if result.code not in codes:
        raise StepFailed(f"`configsync {' '.join(command)}` exited {result.code} (expected {codes}): {_shown(result)}")


def cli(cycle: Cycle, *args: str, database: str | None = None, codes: tuple[int, ...] = (0,)) -> Result:
    result = run(cycle.repo, *args, database=database)
    expect(list(args), result, codes)
    return result


# -- the steps -----------------------------------------------------------------------------

def step_init(c: Cycle) -> None:
    cli(c, "init", "--database", c.source, "--all")
    commit_all(c.repo, "configsync init")


def step_validate(c: Cycle) -> None:
    cli(c, "validate")


def step_plan_empty(c: Cycle) -> None:
    cli(c, "plan", database=c.source)


def step_apply_to_copy(c: Cycle) -> None:
    cli(c, "apply", "--yes", database=c.copy)


def step_columns_equal(c: Cycle) -> None:
    problems = [p for table in managed_tables(c.repo) for p in compare_table(c.repo, table, c.source, c.copy)]
    if problems:
        raise StepFailed(f"{len(problems)} difference(s) between the seeded database and the copy: " + "; ".join(problems[:6]))


def step_edit_create_delete(c: Cycle) -> None:
    snap = c.repo / "config-snapshots"
    spec = c.schema.cycle
    edit = snap / spec["edit"]["file"]
    old, new = spec["edit"]["replace"]
    if not edit.exists():
        raise StepFailed(f"edit: {edit.relative_to(c.repo)} not written by init; files: {_listing(snap, edit.parent)}")
    text = edit.read_text()
    if old not in text:
        raise StepFailed(f"edit: {old!r} not in {edit.relative_to(c.repo)}:\n{text}")
    edit.write_text(text.replace(old, new, 1))
    created = snap / spec["create"]["file"]
    table = created.parent.name
    created.write_text(
        f"# yaml-language-server: $schema=../../schemas/{table}.schema.json\n"
        + yaml.safe_dump(spec["create"]["record"], sort_keys=False, allow_unicode=True)
    )
    deleted = snap / spec["delete"]["file"]
    if not deleted.exists():
        raise StepFailed(f"delete: {deleted.relative_to(c.repo)} not written by init; files: {_listing(snap, deleted.parent)}")
    deleted.unlink()
    commit_all(c.repo, "an edit, a create and a delete")


def step_apply_changes(c: Cycle) -> None:
    result = cli(c, "apply", "--yes", database=c.copy)
    if "1 created, 1 updated, 1 deleted" not in result.out:
        raise StepFailed(f"apply did not report 1 created, 1 updated, 1 deleted: {_shown(result)}")


def step_plan_empty_after(c: Cycle) -> None:
    cli(c, "plan", database=c.copy)


def step_snapshot(c: Cycle) -> None:
    cli(c, "snapshot", database=c.copy)


def step_git_clean(c: Cycle) -> None:
    if not is_clean(c.repo):
        repo = pygit2.Repository(str(c.repo))
        changed = sorted(p for p, f in repo.status().items() if not f & pygit2.enums.FileStatus.IGNORED)
        diffs = [f"{p}: {_diff_of(c.repo, p)}" for p in changed[:4]]
        raise StepFailed(f"git status not clean after snapshot: {changed}; " + "; ".join(diffs))


RUNNERS: dict[str, Callable[[Cycle], None]] = {
    "init": step_init,
    "validate": step_validate,
    "plan-empty": step_plan_empty,
    "apply-to-copy": step_apply_to_copy,
    "columns-equal": step_columns_equal,
    "edit-create-delete": step_edit_create_delete,
    "apply-changes": step_apply_changes,
    "plan-empty-after": step_plan_empty_after,
    "snapshot": step_snapshot,
    "git-clean": step_git_clean,
}
# A step that cannot run once this one failed (keep_going still tries the others).
NEEDS = {"validate": "init", "plan-empty": "init", "apply-to-copy": "init", "columns-equal": "apply-to-copy",
         "edit-create-delete": "init", "apply-changes": "edit-create-delete", "plan-empty-after": "apply-changes",
         "snapshot": "apply-changes", "git-clean": "apply-changes"}


def run_cycle(cycle: Cycle, keep_going: bool = False) -> list[Outcome]:
    failed: set[str] = set()
    for step in STEPS:
        if NEEDS.get(step) in failed:
            cycle.outcomes.append(Outcome(step, False, f"not run: {NEEDS[step]} failed"))
            failed.add(step)
            continue
        try:
            RUNNERS[step](cycle)
        except StepFailed as exc:
            cycle.outcomes.append(Outcome(step, False, str(exc)))
            failed.add(step)
            if not keep_going:
                failure = StepFailed(f"step {step}: {exc}")
                failure.step = step
                raise failure from None
        else:
            cycle.outcomes.append(Outcome(step, True))
    return cycle.outcomes


# -- comparing two databases --------------------------------------------------------------

def _listing(snap: Path, directory: Path) -> str:
    if not directory.exists():
        return f"(no directory {directory.relative_to(snap)}; tables: {sorted(p.name for p in snap.iterdir())})"
    return str(sorted(p.name for p in directory.iterdir())[:12])


def _diff_of(repo: Path, path: str) -> str:
    target = repo / path
    if not target.exists():
        return "deleted"
    git = pygit2.Repository(str(repo))
    try:
        old = git.revparse_single(f"HEAD:{path}").data.decode(errors="replace")  # type: ignore[attr-defined]
    except KeyError:
        return "untracked: " + " ".join(target.read_bytes().decode(errors="replace").split())[:200]
    new = target.read_bytes().decode(errors="replace")
    lines = [f"-{line}" for line in old.splitlines() if line not in new.splitlines()]
    lines += [f"+{line}" for line in new.splitlines() if line not in old.splitlines()]
    return " ".join(lines)[:300]


def config_tables(repo: Path) -> dict[str, dict[str, Any]]:
    config = yaml.safe_load((repo / "configsync.yaml").read_text()) or {}
    return {name: (settings or {}) for name, settings in (config.get("tables") or {}).items()}


def managed_tables(repo: Path) -> list[str]:
    return list(config_tables(repo))


@dataclass
class ColumnInfo:
    name: str
    type: str  # format_type()
    category: str  # pg_type.typcategory of the column's type (or of its element/base type)
    generated: bool  # GENERATED ALWAYS AS (...) STORED
    identity_always: bool


def columns_of(url: str, table: str) -> list[ColumnInfo]:
    schema, _, name = table.rpartition(".")
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            """
            SELECT a.attname, format_type(a.atttypid, a.atttypmod),
                   coalesce(elem.typcategory, base.typcategory, t.typcategory)::text,
                   a.attgenerated <> '', a.attidentity = 'a'
            FROM pg_attribute a
            JOIN pg_type t ON t.oid = a.atttypid
            LEFT JOIN pg_type elem ON elem.oid = t.typelem AND t.typcategory = 'A'
            LEFT JOIN pg_type base ON base.oid = t.typbasetype AND t.typtype = 'd'
            WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped
            ORDER BY a.attnum
            """,
            (f'"{schema or "public"}"."{name}"',),
        ).fetchall()
    return [ColumnInfo(*row) for row in rows]


def primary_key(url: str, table: str) -> list[str]:
    schema, _, name = table.rpartition(".")
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
            "WHERE i.indrelid = to_regclass(%s) AND i.indisprimary ORDER BY array_position(i.indkey, a.attnum)",
            (f'"{schema or "public"}"."{name}"',),
        ).fetchall()
    return [r[0] for r in rows]


def managed_columns(repo: Path, url: str, table: str) -> list[ColumnInfo]:
    """The columns record files hold: all but excluded, secret, generated and
    GENERATED ALWAYS identity columns (those belong to the database)."""
    settings = config_tables(repo)[table]
    skip = set(settings.get("exclude") or []) | set(settings.get("secret") or [])
    return [c for c in columns_of(url, table) if c.name not in skip and not c.generated and not c.identity_always]


def _select_list(columns: list[ColumnInfo]) -> str:
    """Numbers come back as numbers and JSON as jsonb (compared as jsonb compares;
    a JSON value comes wrapped in a one-element list, so JSON null is not SQL NULL);
    everything else as PostgreSQL's own text (exact for equal types on one server)."""
    parts = []
    for col in columns:
        ident = '"' + col.name.replace('"', '""') + '"'
        if col.type in ("json", "jsonb"):  # wrapped, so that JSON null ([None]) is not SQL NULL (None)
            parts.append(f"CASE WHEN {ident} IS NULL THEN NULL ELSE jsonb_build_array({ident}::jsonb) END")
        elif col.type in ("json[]", "jsonb[]"):
            parts.append(f"{ident}::jsonb[]")
        elif col.category == "N" and col.type != "money" and not col.type.endswith("money[]"):
            parts.append(ident)
        else:
            parts.append(f"{ident}::text")
    return ", ".join(parts)


def read_rows(url: str, table: str, columns: list[ColumnInfo], key: list[str]) -> dict[tuple[Any, ...], dict[str, Any]]:
    schema, _, name = table.rpartition(".")
    qualified = f'"{schema or "public"}"."{name}"'
    with psycopg.connect(url) as conn:
        conn.execute("SET TimeZone = 'UTC'; SET DateStyle = 'ISO'; SET IntervalStyle = 'postgres'; SET extra_float_digits = 3")
        rows = conn.execute(f"SELECT {_select_list(columns)} FROM {qualified}").fetchall()  # type: ignore[arg-type]
    names = [c.name for c in columns]
    result = {}
    for row in rows:
        record = dict(zip(names, row, strict=True))
        result[tuple(_canonical(record.get(k)) for k in key)] = record
    return result


def _canonical(value: Any) -> Any:
    """A hashable form under which equal numbers (1.50 and 1.5, NaN and NaN) and
    equal JSON (key order) are equal."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, float):
        return ("num", "NaN") if math.isnan(value) else ("num", Decimal(repr(value)).normalize() if math.isfinite(value) else str(value))
    if isinstance(value, Decimal):
        return ("num", "NaN") if value.is_nan() else ("num", value.normalize() if value.is_finite() else str(value))
    if isinstance(value, int):
        return ("num", Decimal(value).normalize())
    if isinstance(value, (list, tuple)):
        return tuple(_canonical(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _canonical(v)) for k, v in value.items()))
    if isinstance(value, (dt.date, dt.time, dt.timedelta)):
        return str(value)
    return repr(value)


def _sqlite_rows(url: str, table: str, repo: Path) -> tuple[list[str], dict[tuple[Any, ...], dict[str, Any]]]:
    """SQLite: every managed column as stored; JSON-looking text is parsed (JSON
    compares as JSON, wrapped so JSON null is not SQL NULL), numbers as numbers."""
    settings = config_tables(repo)[table]
    skip = set(settings.get("exclude") or []) | set(settings.get("secret") or [])
    conn = sqlite3.connect(url.removeprefix("sqlite:///"))
    try:
        info = conn.execute(f'PRAGMA table_xinfo("{table}")').fetchall()  # cid, name, type, notnull, default, pk, hidden
        columns = [r[1] for r in info if r[1] not in skip and r[6] == 0]
        raw_key = settings.get("key") or [r[1] for r in sorted(info, key=lambda r: r[5]) if r[5]]
        key = [raw_key] if isinstance(raw_key, str) else list(raw_key)
        rows = conn.execute(f'SELECT {", ".join(chr(34) + c + chr(34) for c in columns)} FROM "{table}"').fetchall()
    finally:
        conn.close()
    json_types = {r[1] for r in info if "JSON" in (r[2] or "").upper() or (r[2] or "").endswith("[]")}
    result = {}
    for row in rows:
        record = {c: ([json.loads(v)] if c in json_types and isinstance(v, str) else v) for c, v in zip(columns, row, strict=True)}
        result[tuple(_canonical(record.get(k)) for k in key)] = record
    return key, result


def compare_table(repo: Path, table: str, source: str, copy: str) -> Iterator[str]:
    if source.startswith("sqlite"):
        key, left = _sqlite_rows(source, table, repo)
        _, right = _sqlite_rows(copy, table, repo)
        columns = [ColumnInfo(name, "", "", False, False) for name in next(iter(left.values()), {})]
    else:
        columns = managed_columns(repo, source, table)
        raw_key = config_tables(repo)[table].get("key") or primary_key(source, table)
        key = [raw_key] if isinstance(raw_key, str) else list(raw_key)
        left, right = read_rows(source, table, columns, key), read_rows(copy, table, columns, key)
    for missing in sorted(set(left) - set(right), key=repr):
        yield f"{table} {key}={missing!r}: in the seeded database, missing from the copy"
    for extra in sorted(set(right) - set(left), key=repr):
        yield f"{table} {key}={extra!r}: in the copy only"
    for k in sorted(set(left) & set(right), key=repr):
        for col in columns:
            a, b = left[k][col.name], right[k][col.name]
            if _canonical(a) != _canonical(b):
                yield f"{table} {key}={k!r} column {col.name} ({col.type}): seeded {a!r} != copy {b!r}"
