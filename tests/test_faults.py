"""Nothing is ever half-applied: kill -9, a dropped connection, racing applies.

* kill -9: `configsync apply --yes` runs as a real process against a large
  change set on the three Moose tables (creates, updates and deletes together)
  and is SIGKILLed at moments spread over its whole run; after every kill the
  database is exactly the old state or exactly the new one, every row and every
  column, and the next apply completes the change.
* The server drops the connection mid-apply (pg_terminate_backend): a clear
  error, exit 1, the old state.
* Concurrent applies from different revisions serialise on the lock; waiters
  re-check their plan and refuse when it was overtaken (stale); the database
  ends as exactly one revision and the history table lists each apply once.
* A snapshot that runs across an apply's commit reads one consistent state.
* Racing plans: a plan overtaken by another apply, or by a write while it
  waited for the lock, is refused with the rows that changed.
* Secrets: a full scenario with a secret column and a password in the URL;
  every output is searched for them.

Run with -s to see the trial counts. CONFIGSYNC_FAULT_TRIALS and
CONFIGSYNC_FAULT_ROWS scale the kill -9 trials (defaults keep CI fast).
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pygit2
import pytest
from configsync import values
from configsync.backends.pgcommon import LOCK_ID
from configsync.workspace import Workspace
from helpers import MOOSE, Result, init_repo
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

TABLES = ("system_config", "proposer_configs", "contracts")
KEYS = {"system_config": ("config_key",), "proposer_configs": ("name",), "contracts": ("name", "version")}
JSON_COLUMNS = {"config_value", "cost_profile", "success_patterns", "specification"}
ARRAY_COLUMNS = {"strengths"}
# created_at/updated_at are excluded from files and filled by the database;
# pinning their default makes the new state predictable to the last column.
PINNED_TIME = "2025-01-01T00:00:00.000Z"
HISTORY = "configsync_history"
NAMESPACE = uuid.UUID("6b1c55a2-4f0e-4c8e-9d7a-2f9a1f6c0b11")

Key = tuple[Any, ...]
TableState = dict[Key, dict[str, Any]]
DbState = dict[str, TableState]


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


# ---- running configsync as a process ----------------------------------------------


@dataclasses.dataclass
class Run(Result):
    seconds: float


def configsync(repo: Path, url: str, *args: str, timeout: float = 180) -> Run:
    """`python -m configsync --database URL ARGS` in ``repo``, as CI runs it."""
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "configsync", "--database", url, *args],
        cwd=repo, capture_output=True, text=True, timeout=timeout, check=False,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - start)


def start(repo: Path, url: str, *args: str, log: Path) -> subprocess.Popen[bytes]:
    """Start configsync without waiting; output goes to files so a full pipe
    never slows the process down (its timing is what the trials spread over)."""
    return subprocess.Popen(
        [sys.executable, "-m", "configsync", "--database", url, *args],
        cwd=repo, stdout=open(log.with_suffix(".out"), "wb"), stderr=open(log.with_suffix(".err"), "wb"),
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def output(log: Path) -> str:
    return log.with_suffix(".out").read_text() + log.with_suffix(".err").read_text()


def backup_refs(repo: Path) -> list[str]:
    return sorted(r for r in pygit2.Repository(str(repo)).references if r.startswith("refs/configsync/backups/"))


def assert_clean_error(run: Run | str) -> None:
    text = run if isinstance(run, str) else run.text
    assert "Traceback" not in text, text
    assert "failed unexpectedly" not in text, text


# ---- Moose-shaped rows ---------------------------------------------------------------
#
# Row i of each table exists in the old state. The new state updates every
# row with i % 3 == 0, deletes every row with i % 3 == 1, keeps the rest, and
# creates 2n/3 more: with n rows per table that is 4n/3 changes per table.


def system_row(i: int, rev: int) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid5(NAMESPACE, f"system_config/{i}")),
        "config_key": f"setting-{i:05d}",
        "config_value": {"enabled": (i + rev) % 2 == 0, "level": (i + rev) % 7,
                         "limits": {"hard": 10 * i + rev, "soft": i + rev}},
        "config_type": "json",
        "description": f"Setting {i}, revision {rev}",
        "updated_by": None if i % 2 else f"user-{rev}",
    }


def proposer_row(i: int, rev: int) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid5(NAMESPACE, f"proposer_configs/{i}")),
        "name": f"proposer-{i:05d}",
        "provider": ("openai", "anthropic", "google")[i % 3],
        "endpoint": f"https://api.example.com/v{rev + 1}/models/{i}",
        "context_limit": 1000 + 10 * i + rev,
        "cost_profile": {"currency": "USD", "input_cost_per_token": Decimal(f"1.{i % 10}e-7"),
                         "output_cost_per_token": Decimal(f"{rev + 1}.5e-6")},
        "strengths": [f"skill-{i % 4}", f"revision-{rev}"],
        "complexity_threshold": Decimal(f"0.{(i + rev) % 9 + 1}"),
        "success_patterns": None if i % 2 else {"rev": rev, "wins": i},
        "notes": f"Proposer {i}, revision {rev}" if i % 4 else None,
        "is_active": (i + rev) % 5 != 0,
    }


def contract_row(i: int, rev: int) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid5(NAMESPACE, f"contracts/{i}")),
        "name": f"contract-{i // 3:05d}",
        "version": f"v{i % 3 + 1}",
        "specification": {"openapi": "3.1.0", "paths": {f"/items/{i}": {"get": {"revision": rev}}}},
        "description": f"Contract {i}, revision {rev}",
        "is_active": (i + rev) % 4 != 0,
    }


ROWS: dict[str, Callable[[int, int], dict[str, Any]]] = {
    "system_config": system_row, "proposer_configs": proposer_row, "contracts": contract_row,
}


# ---- the two backends, seen from the test -------------------------------------------


class Db:
    """Direct access to the test database: ground truth, setup and reset."""

    url: str

    def state(self) -> DbState:
        raise NotImplementedError

    def history(self) -> list[str]:
        """Revisions in the history table, oldest first."""
        raise NotImplementedError

    def create_tables(self) -> None:
        raise NotImplementedError

    def insert(self, table: str, rows: Sequence[dict[str, Any]]) -> None:
        raise NotImplementedError

    def update(self, table: str, rows: Sequence[dict[str, Any]]) -> None:
        raise NotImplementedError

    def delete(self, table: str, ids: Sequence[str]) -> None:
        raise NotImplementedError

    def save_seed(self) -> None:
        """Remember the current rows; reset() brings them back."""
        raise NotImplementedError

    def reset(self) -> None:
        raise NotImplementedError

    def wait_idle(self) -> None:
        """Until no configsync session is left (a killed client's server
        process may finish its statement first)."""


def _key(table: str, row: dict[str, Any]) -> Key:
    return tuple(row[c] for c in KEYS[table])


class PgDb(Db):
    def __init__(self, url: str) -> None:
        self.url = url

    def connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.url, autocommit=True)

    def state(self) -> DbState:
        result: DbState = {}
        with psycopg.connect(self.url, autocommit=True, row_factory=dict_row) as conn, conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")  # one snapshot of all three
            for table in TABLES:
                rows = conn.execute(f'SELECT * FROM "{table}"').fetchall()
                result[table] = {_key(table, r): dict(r) for r in rows}
        return result

    def history(self) -> list[str]:
        with self.connect() as conn:
            if conn.execute("SELECT to_regclass(%s)", [HISTORY]).fetchone() == (None,):
                return []
            return [r[0] for r in conn.execute(f"SELECT revision FROM {HISTORY} ORDER BY id").fetchall()]

    def create_tables(self) -> None:
        with self.connect() as conn:
            conn.execute((MOOSE / "schema.postgres.sql").read_text())
            for table in TABLES:
                conn.execute(f"ALTER TABLE {table} ALTER COLUMN created_at SET DEFAULT '{PINNED_TIME}', "
                             f"ALTER COLUMN updated_at SET DEFAULT '{PINNED_TIME}'")

    @staticmethod
    def _param(column: str, value: Any) -> Any:
        if column in JSON_COLUMNS and value is not None:
            return Jsonb(value, dumps=values.dumps)
        return value

    def insert(self, table: str, rows: Sequence[dict[str, Any]]) -> None:
        columns = list(rows[0])
        with self.connect() as conn, conn.cursor() as cur:
            cur.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})",
                [[self._param(c, r[c]) for c in columns] for r in rows],
            )

    def update(self, table: str, rows: Sequence[dict[str, Any]]) -> None:
        columns = [c for c in rows[0] if c != "id"]
        with self.connect() as conn, conn.cursor() as cur:
            cur.executemany(
                f"UPDATE {table} SET {', '.join(f'{c} = %s' for c in columns)} WHERE id = %s",
                [[self._param(c, r[c]) for c in columns] + [r["id"]] for r in rows],
            )

    def delete(self, table: str, ids: Sequence[str]) -> None:
        with self.connect() as conn:
            conn.execute(f"DELETE FROM {table} WHERE id = ANY(%s::uuid[])", [list(ids)])

    def save_seed(self) -> None:
        with self.connect() as conn:
            conn.execute("CREATE SCHEMA faults_seed")
            for table in TABLES:
                conn.execute(f"CREATE TABLE faults_seed.{table} AS SELECT * FROM public.{table}")

    def reset(self) -> None:
        with self.connect() as conn, conn.transaction():
            conn.execute(f"TRUNCATE {', '.join(TABLES)}")
            for table in TABLES:
                conn.execute(f"INSERT INTO public.{table} SELECT * FROM faults_seed.{table}")

    def configsync_sessions(self) -> list[int]:
        with self.connect() as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND application_name = 'configsync'"
            ).fetchall()
        return [r[0] for r in rows]

    def wait_idle(self) -> None:
        deadline = time.monotonic() + 30
        while self.configsync_sessions():
            assert time.monotonic() < deadline, "a killed apply's session never ended"
            time.sleep(0.005)

    def lock_holder(self, conn: psycopg.Connection[Any]) -> int | None:
        """The pid of the configsync session holding the apply lock, if any."""
        row = conn.execute(
            "SELECT l.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND a.application_name = 'configsync' "
            "AND a.datname = current_database() AND l.objid::bigint = %s",
            [LOCK_ID & 0xFFFFFFFF],
        ).fetchone()
        return row[0] if row else None

    def waiting(self) -> int:
        """configsync sessions waiting for a lock."""
        with self.connect() as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND application_name = 'configsync' AND wait_event_type = 'Lock'"
            ).fetchone()
        return int(row[0]) if row else 0


class SqliteDb(Db):
    def __init__(self, path: Path) -> None:
        self.path = path
        self.url = f"sqlite:///{path}"
        self.seed = path.with_name(path.stem + "-seed.sqlite")

    def connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=60)
        conn.row_factory = sqlite3.Row
        return conn

    def state(self) -> DbState:
        # Opening the file after a kill rolls a hot journal back, as configsync would.
        conn = self.connect()
        try:
            result: DbState = {}
            conn.execute("BEGIN")
            for table in TABLES:
                rows = [{k: _json_text(k, r[k]) for k in r.keys()}  # noqa: SIM118 - a Row iterates values
                        for r in conn.execute(f'SELECT * FROM "{table}"')]
                result[table] = {_key(table, r): r for r in rows}
            conn.execute("ROLLBACK")
            return result
        finally:
            conn.close()

    def history(self) -> list[str]:
        conn = self.connect()
        try:
            if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", [HISTORY]).fetchone():
                return []
            return [r[0] for r in conn.execute(f"SELECT revision FROM {HISTORY} ORDER BY id")]
        finally:
            conn.close()

    def create_tables(self) -> None:
        ddl = (MOOSE / "schema.sqlite.sql").read_text()
        ddl = ddl.replace("DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))", f"DEFAULT ('{PINNED_TIME}')")
        conn = self.connect()
        conn.executescript(ddl)
        conn.close()

    @staticmethod
    def _param(column: str, value: Any) -> Any:
        if value is None:
            return None
        if column in JSON_COLUMNS or column in ARRAY_COLUMNS:
            return values.dumps(value)
        if isinstance(value, Decimal):
            return float(value)
        return value

    def _executemany(self, sql: str, params: list[list[Any]]) -> None:
        conn = self.connect()
        try:
            conn.execute("BEGIN")
            conn.executemany(sql, params)
            conn.execute("COMMIT")
        finally:
            conn.close()

    def insert(self, table: str, rows: Sequence[dict[str, Any]]) -> None:
        columns = list(rows[0])
        self._executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['?'] * len(columns))})",
                          [[self._param(c, r[c]) for c in columns] for r in rows])

    def update(self, table: str, rows: Sequence[dict[str, Any]]) -> None:
        columns = [c for c in rows[0] if c != "id"]
        self._executemany(f"UPDATE {table} SET {', '.join(f'{c} = ?' for c in columns)} WHERE id = ?",
                          [[self._param(c, r[c]) for c in columns] + [r["id"]] for r in rows])

    def delete(self, table: str, ids: Sequence[str]) -> None:
        self._executemany(f"DELETE FROM {table} WHERE id = ?", [[i] for i in ids])

    def save_seed(self) -> None:
        source, target = self.connect(), sqlite3.connect(self.seed)
        source.backup(target)
        source.close()
        target.close()

    def reset(self) -> None:
        # Only the three tables, like PostgreSQL's reset: the history table stays.
        conn = self.connect()
        try:
            conn.execute("ATTACH DATABASE ? AS seed", [str(self.seed)])
            conn.execute("BEGIN IMMEDIATE")
            for table in TABLES:
                conn.execute(f"DELETE FROM main.{table}")
                conn.execute(f"INSERT INTO main.{table} SELECT * FROM seed.{table}")
            conn.execute("COMMIT")
        finally:
            conn.close()


def _json_text(column: str, value: Any) -> Any:
    if isinstance(value, str) and (column in JSON_COLUMNS or column in ARRAY_COLUMNS):
        return json.loads(value)
    return value


# ---- the scenario: old state in the database, new state committed in git ----------------


@dataclasses.dataclass
class Scenario:
    db: Db
    repo: Path
    old: DbState
    new: DbState
    changes: dict[str, int]  # create/update/delete
    logs: Path
    timing: Any = None  # the Timing measured by the kill trials

    def describe(self, state: DbState) -> str:
        """Which rows match neither side, for a failure message."""
        lines = []
        for table in TABLES:
            for key in sorted(set(state[table]) | set(self.old[table]) | set(self.new[table]), key=repr):
                row, old, new = state[table].get(key), self.old[table].get(key), self.new[table].get(key)
                if row == old or row == new:
                    continue
                diff = sorted(c for c in (row or old or new or {}) if (row or {}).get(c) != (new or {}).get(c))
                lines.append(f"{table} {key}: matches neither (vs new: {diff})")
        as_old = sum(state[t] == self.old[t] for t in TABLES)
        as_new = sum(state[t] == self.new[t] for t in TABLES)
        return f"{as_old} tables as old, {as_new} as new; " + "; ".join(lines[:10])


def build_scenario(db: Db, root: Path, per_table: int) -> Scenario:
    root.mkdir(parents=True, exist_ok=True)
    db.create_tables()
    for table, make in ROWS.items():
        db.insert(table, [make(i, 0) for i in range(per_table)])
    db.save_seed()
    old = db.state()
    created = range(per_table, per_table + 2 * per_table // 3)
    for table, make in ROWS.items():
        db.update(table, [make(i, 1) for i in range(0, per_table, 3)])
        db.delete(table, [make(i, 0)["id"] for i in range(1, per_table, 3)])
        db.insert(table, [make(i, 2) for i in created])
    new = db.state()
    repo = root / "repo"
    init_repo(repo)
    with Workspace.open(repo / "configsync.yaml", database=db.url) as ws:
        ws.snapshot(commit=True, message="the new state")
    db.reset()
    assert db.state() == old
    changes = {
        "create": len(created) * 3,
        "update": len(range(0, per_table, 3)) * 3,
        "delete": len(range(1, per_table, 3)) * 3,
    }
    logs = root / "logs"
    logs.mkdir()
    return Scenario(db, repo, old, new, changes, logs)


# The new state deletes a third of each table; a trial resets the rows behind
# configsync's back (the history table keeps the applied revision), which is
# drift the next apply is meant to overwrite.
APPLY = ("apply", "--yes", "--allow-mass-delete", "--overwrite-drift")


# ---- kill -9 -------------------------------------------------------------------------------


@dataclasses.dataclass
class Trial:
    at: float  # seconds after the process started
    phase: str  # where the kill was aimed: "planning", or "applying" (backup, transaction, commit, exit)
    outcome: str = ""  # "old", "new" (committed before the kill) or "finished" (exited first)


@dataclasses.dataclass
class Timing:
    """Seconds from an apply's start until its plan is printed, and from then
    until it exits; averaged over what the trials observe (CI machines vary)."""

    planning: float
    applying: float

    def saw_planning(self, seconds: float) -> None:
        self.planning = 0.7 * self.planning + 0.3 * seconds

    def saw_applying(self, seconds: float) -> None:
        self.applying = 0.7 * self.applying + 0.3 * seconds


class Watch:
    """Tells when an apply has finished planning: its plan appears on stdout
    (unbuffered). What follows is the backup ref, then the write transaction:
    lock, re-read and stale check, deletes, inserts, updates, history, commit.
    A file is cheap to watch; polling the database would slow the apply down."""

    def __init__(self, log: Path) -> None:
        self.path = log.with_suffix(".out")
        self.seen = b""

    def planned(self) -> bool:
        with open(self.path, "rb") as handle:
            handle.seek(max(0, len(self.seen) - 16))
            self.seen = self.seen[: max(0, len(self.seen) - 16)] + handle.read()
        return b"\nPlan: " in self.seen

    def wait(self, proc: subprocess.Popen[bytes], began: float) -> float | None:
        """Seconds after ``began`` when the plan was printed; None if the process exited first."""
        while proc.poll() is None:
            if self.planned():
                return time.monotonic() - began
            time.sleep(0.002)
        return None


def calibrate(scenario: Scenario) -> Timing:
    """A warm-up apply, then a watched one."""
    db = scenario.db
    assert configsync(scenario.repo, db.url, *APPLY).code == 0
    db.reset()
    log = scenario.logs / "calibrate"
    began = time.monotonic()
    proc = start(scenario.repo, db.url, *APPLY, log=log)
    planned = Watch(log).wait(proc, began)
    assert proc.wait() == 0, output(log)
    ended = time.monotonic() - began
    assert planned is not None
    assert db.state() == scenario.new, scenario.describe(db.state())
    db.reset()
    return Timing(planned, ended - planned)


def kill_trials(scenario: Scenario, trials: int, seed: int) -> list[Trial]:
    """``trials`` kills spread over a whole apply: a quarter at moments while
    it plans (reading git and the database, validating), the rest at offsets
    after its plan is printed, spread over the backup ref, the write
    transaction, the commit and the exit. After each: the state is exactly
    old or new, the history table agrees, and the next apply completes."""
    db = scenario.db
    rng = random.Random(seed)
    timing = calibrate(scenario)
    scenario.timing = dataclasses.replace(timing)
    planning = trials // 4
    results: list[Trial] = []
    history = len(db.history())
    for n in range(trials):
        log = scenario.logs / f"trial-{n}"
        began = time.monotonic()
        proc = start(scenario.repo, db.url, *APPLY, log=log)
        if n < planning:
            # stratified: trial n gets its own slice of the phase, jittered inside it
            trial = Trial(timing.planning * (n + rng.random()) / planning, "planning")
            try:
                proc.wait(timeout=trial.at)
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
        else:
            offset = 1.1 * timing.applying * (n - planning + rng.random()) / (trials - planning)
            trial = Trial(offset, "applying")
            planned = Watch(log).wait(proc, began)
            if planned is not None:
                timing.saw_planning(planned)
                trial.at = planned + offset
                try:
                    proc.wait(timeout=max(0.0, trial.at - (time.monotonic() - began)))
                except subprocess.TimeoutExpired:
                    proc.send_signal(signal.SIGKILL)
                else:
                    timing.saw_applying(time.monotonic() - began - planned)
        code = proc.wait()
        db.wait_idle()
        state = db.state()
        if code == 0:
            trial.outcome = "finished"
            assert state == scenario.new, scenario.describe(state)
        else:
            assert code == -signal.SIGKILL, f"trial {n}: exit {code}\n{output(log)}"
            assert state in (scenario.old, scenario.new), f"trial {n} at {trial.at:.3f}s: {scenario.describe(state)}"
            trial.outcome = "new" if state == scenario.new else "old"
        # the history entry is written in the same transaction as the rows
        history += trial.outcome != "old"
        assert len(db.history()) == history, f"trial {n}: history {db.history()}"

        # the next apply completes the change, whatever the kill left behind
        # (an open transaction, a hot journal, a backup ref, git lock files);
        # from the old state it is a full apply: its timing keeps the spread current
        follow_log = scenario.logs / f"trial-{n}-after"
        began = time.monotonic()
        follow = start(scenario.repo, db.url, *APPLY, log=follow_log)
        planned = Watch(follow_log).wait(follow, began)
        assert follow.wait() == 0, f"trial {n}: the apply after the kill failed:\n{output(follow_log)}"
        assert_clean_error(output(follow_log))
        if trial.outcome == "old" and planned is not None:
            timing.saw_planning(planned)
            timing.saw_applying(time.monotonic() - began - planned)
        assert db.state() == scenario.new
        history += 1
        assert len(db.history()) == history
        db.reset()
        results.append(trial)
    return results


def run_lanes(scenarios: Sequence[Scenario], trials: int) -> list[Trial]:
    """Trials in parallel lanes (one database and repository each): the CPU
    time is in the configsync processes, so two lanes use two cores."""
    results: list[list[Trial]] = [[] for _ in scenarios]
    errors: list[BaseException] = []

    def lane(i: int) -> None:
        try:
            results[i] = kill_trials(scenarios[i], trials // len(scenarios) + (i < trials % len(scenarios)), seed=i)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test
            errors.append(exc)

    threads = [threading.Thread(target=lane, args=(i,)) for i in range(len(scenarios))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return [t for lane_results in results for t in lane_results]


def report(name: str, scenarios: Sequence[Scenario], results: list[Trial], seconds: float) -> None:
    counts: dict[str, dict[str, int]] = {}
    for trial in results:
        phase = counts.setdefault(trial.phase, {"old": 0, "new": 0, "finished": 0})
        phase[trial.outcome] += 1
    first = scenarios[0]
    rows = sum(len(first.old[t]) for t in TABLES)
    timing = first.timing
    print(f"\n{name}: {len(results)} kill -9 trials in {len(scenarios)} lanes, {seconds:.1f}s; "
          f"{rows} rows, changes {first.changes}; one apply plans for {timing.planning:.2f}s, "
          f"then backs up and writes for {timing.applying:.2f}s")
    for phase, c in counts.items():
        print(f"  kills aimed at {phase}: " + ", ".join(f"{n} {what}" for what, n in c.items()))
    print("  every trial: state exactly old or new, history agrees, the next apply completed")


def check_backups(scenario: Scenario) -> int:
    """Every apply here started from the old state, so every backup ref (those
    of killed applies included) must hold exactly the old state: with the
    database reset to it, a plan for the ref has nothing to change."""
    refs = backup_refs(scenario.repo)
    assert refs
    scenario.db.reset()
    with Workspace.open(scenario.repo / "configsync.yaml", database=scenario.db.url) as ws:
        for ref in {refs[0], refs[len(refs) // 2], refs[-1]}:
            assert not ws.plan(ref).has_changes, ref
    return len(refs)


ROWS_PER_TABLE = env_int("CONFIGSYNC_FAULT_ROWS", 150)
TRIALS = env_int("CONFIGSYNC_FAULT_TRIALS", 50)
LANES = 2


@pytest.fixture
def pg_lanes(pg_server: str, pg_url: str, tmp_path: Path) -> Iterator[list[Scenario]]:
    from support import postgres

    extra = [f"cs_faults_{uuid.uuid4().hex[:8]}" for _ in range(LANES - 1)]
    urls = [pg_url] + [postgres.create_database(pg_server, name) for name in extra]
    try:
        yield [build_scenario(PgDb(url), tmp_path / f"lane{i}", ROWS_PER_TABLE) for i, url in enumerate(urls)]
    finally:
        for name in extra:
            postgres.drop_database(pg_server, name)


def test_kill_9_during_apply_postgres(pg_lanes: list[Scenario]) -> None:
    began = time.monotonic()
    results = run_lanes(pg_lanes, TRIALS)
    report("PostgreSQL", pg_lanes, results, time.monotonic() - began)
    assert len(results) == TRIALS
    assert TRIALS >= 50 or "CONFIGSYNC_FAULT_TRIALS" in os.environ
    assert {t.outcome for t in results} >= {"old", "new"}  # kills landed on both sides of the commit
    refs = sum(check_backups(scenario) for scenario in pg_lanes)
    print(f"  {refs} backup refs (killed applies' included), each holding exactly the old state")


def test_kill_9_during_apply_sqlite(tmp_path: Path) -> None:
    lanes = [build_scenario(SqliteDb(tmp_path / f"lane{i}" / "db.sqlite"), tmp_path / f"lane{i}", ROWS_PER_TABLE)
             for i in range(LANES)]
    began = time.monotonic()
    results = run_lanes(lanes, max(8, TRIALS // 4))
    report("SQLite", lanes, results, time.monotonic() - began)
    assert "old" in {t.outcome for t in results}
    for scenario in lanes:
        assert isinstance(scenario.db, SqliteDb)
        assert not scenario.db.path.with_name(scenario.db.path.name + "-journal").exists()
        check_backups(scenario)


# ---- the server drops the connection ---------------------------------------------------------

GATE = 4711  # an advisory lock the test holds to stop an apply at a chosen statement

GATE_SQL = f"""
CREATE FUNCTION faults_gate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_lock_shared({GATE});
    PERFORM pg_advisory_unlock_shared({GATE});
    RETURN NEW;
END $$;
"""


class Gate:
    """Stops an apply inside its transaction: a trigger on ``table`` waits for
    an advisory lock this test holds. ``when`` is "insert" (the first insert
    into the table; by then every delete and the earlier tables' writes are
    done) or "commit" (a deferred constraint trigger: inside COMMIT)."""

    def __init__(self, db: PgDb, table: str = "contracts", when: str = "insert") -> None:
        self.db = db
        self.holder = db.connect()
        self.holder.execute("SELECT pg_advisory_lock(%s)", [GATE])
        with db.connect() as conn:
            if conn.execute("SELECT to_regproc('faults_gate')").fetchone() == (None,):
                conn.execute(GATE_SQL)
            if when == "commit":
                conn.execute(f"CREATE CONSTRAINT TRIGGER faults_gate AFTER INSERT OR UPDATE OR DELETE ON {table} "
                             "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION faults_gate()")
            else:
                conn.execute(f"CREATE TRIGGER faults_gate BEFORE INSERT ON {table} "
                             "FOR EACH ROW EXECUTE FUNCTION faults_gate()")
        self.table = table

    def wait_until_stopped(self, proc: subprocess.Popen[bytes] | None = None, timeout: float = 60) -> int:
        """The pid of the configsync session waiting at the gate."""
        deadline = time.monotonic() + timeout
        with self.db.connect() as conn:
            while time.monotonic() < deadline:
                row = conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND application_name = 'configsync' AND wait_event = 'advisory'"
                ).fetchone()
                if row:
                    return int(row[0])
                assert proc is None or proc.poll() is None, "the apply ended before reaching the gate"
                time.sleep(0.01)
        raise AssertionError("the apply never reached the gate")

    def open(self) -> None:
        if not self.holder.closed:
            self.holder.execute("SELECT pg_advisory_unlock(%s)", [GATE])
            self.holder.close()

    def remove(self) -> None:
        self.open()
        with self.db.connect() as conn:
            conn.execute(f"DROP TRIGGER IF EXISTS faults_gate ON {self.table}")


def terminate(db: PgDb, pid: int) -> None:
    with db.connect() as conn:
        assert conn.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone() == (True,)


@pytest.fixture
def pg_scenario(pg_url: str, tmp_path: Path) -> Scenario:
    return build_scenario(PgDb(pg_url), tmp_path, 60)


def test_connection_terminated_mid_apply(pg_scenario: Scenario) -> None:
    """pg_terminate_backend while the apply has written part of its changes:
    exit 1, one clear line naming the record being written, the old state, no
    backup ref left behind; the next apply completes."""
    scenario, db = pg_scenario, pg_scenario.db
    assert isinstance(db, PgDb)
    gate = Gate(db)
    log = scenario.logs / "terminated"
    try:
        proc = start(scenario.repo, db.url, *APPLY, log=log)
        terminate(db, gate.wait_until_stopped(proc))
        code = proc.wait(timeout=30)
    finally:
        gate.remove()
    err = log.with_suffix(".err").read_text()
    assert code == 1, output(log)
    assert_clean_error(err)
    assert err.startswith("error: apply failed at contracts config-snapshots/contracts/"), err
    # the server's reason, or (when psycopg is pipelining a batch) what the client saw
    assert ("terminating connection due to administrator command" in err
            or "server closed the connection unexpectedly" in err), err
    assert err.rstrip().endswith("nothing was changed"), err
    assert db.state() == scenario.old
    assert db.history() == []
    assert backup_refs(scenario.repo) == []
    follow = configsync(scenario.repo, db.url, *APPLY)
    assert follow.code == 0, follow.text
    assert db.state() == scenario.new


def test_connection_terminated_at_spread_moments(pg_scenario: Scenario) -> None:
    """pg_terminate_backend at moments spread over the apply's writing: each
    time either a clear error (exit 1) and the old state, or, when the apply
    had already committed, success and the new state."""
    scenario, db = pg_scenario, pg_scenario.db
    assert isinstance(db, PgDb)
    timing = calibrate(scenario)
    outcomes = {"refused, old state": 0, "committed first, new state": 0}
    trials, rng = 6, random.Random(3)
    for n in range(trials):
        log = scenario.logs / f"terminate-{n}"
        began = time.monotonic()
        proc = start(scenario.repo, db.url, *APPLY, log=log)
        planned = Watch(log).wait(proc, began)
        assert planned is not None, output(log)
        time.sleep(1.1 * timing.applying * (n + rng.random()) / trials)
        for pid in db.configsync_sessions():
            with db.connect() as conn:
                conn.execute("SELECT pg_terminate_backend(%s)", [pid])
        code = proc.wait(timeout=60)
        db.wait_idle()
        text = output(log)
        assert_clean_error(text)
        if code == 1:
            assert "nothing was changed" in text, text
            assert db.state() == scenario.old
            outcomes["refused, old state"] += 1
        else:
            assert code == 0, text
            assert db.state() == scenario.new
            outcomes["committed first, new state"] += 1
        db.reset()
    print(f"\npg_terminate_backend at {trials} moments: {outcomes}")
    assert outcomes["refused, old state"] > 0


class Proxy:
    """A TCP proxy in front of the test server, so a test can cut the client's
    side of a connection while the server side carries on."""

    def __init__(self, url: str) -> None:
        info = psycopg.conninfo.conninfo_to_dict(url)
        host, port = str(info.get("host") or "localhost"), int(info.get("port") or 5432)
        self.upstream: tuple[int, Any] = (
            (socket.AF_UNIX, f"{host}/.s.PGSQL.{port}") if host.startswith("/") else (socket.AF_INET, (host, port))
        )
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"postgresql://{info.get('user', 'postgres')}@127.0.0.1:{self.listener.getsockname()[1]}/{info['dbname']}"
        self.clients: list[socket.socket] = []
        self.servers: list[socket.socket] = []
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.socket(self.upstream[0], socket.SOCK_STREAM)
            server.connect(self.upstream[1])
            self.clients.append(client)
            self.servers.append(server)
            for pair in ((client, server), (server, client)):
                self.threads.append(threading.Thread(target=self._pump, args=pair, daemon=True))
                self.threads[-1].start()

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            return

    def cut(self) -> None:
        """Close every client's connection; the server's sessions stay open."""
        for client in self.clients:
            client.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        """Shut every socket down and wait for the threads before closing: a
        thread still blocked on a closed socket's number could otherwise take
        connections meant for whatever socket gets that number next."""
        for sock in [self.listener, *self.clients, *self.servers]:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for thread in self.threads:
            thread.join(timeout=10)
            assert not thread.is_alive()
        for sock in [self.listener, *self.clients, *self.servers]:
            sock.close()


def test_connection_lost_during_commit_is_not_reported_as_nothing_changed(pg_scenario: Scenario) -> None:
    """The network drops while COMMIT is on its way: the server may commit
    without the client hearing of it. configsync must not claim "nothing was
    changed" then, and must keep the backup ref of the state before."""
    scenario, db = pg_scenario, pg_scenario.db
    assert isinstance(db, PgDb)
    proxy = Proxy(db.url)
    gate = Gate(db, when="commit")
    log = scenario.logs / "commit-lost"
    try:
        proc = start(scenario.repo, proxy.url, *APPLY, log=log)
        gate.wait_until_stopped(proc)  # inside COMMIT, in a deferred trigger
        proxy.cut()
        code = proc.wait(timeout=30)
        gate.open()  # the server finishes the commit the client no longer waits for
        deadline = time.monotonic() + 30
        with db.connect() as conn:
            while conn.execute("SELECT 1 FROM pg_stat_activity WHERE application_name = 'configsync' "
                               "AND datname = current_database() AND state <> 'idle'").fetchone():
                assert time.monotonic() < deadline
                time.sleep(0.01)
        proxy.close()
        db.wait_idle()
    finally:
        gate.remove()
        proxy.close()
    text = output(log)
    assert code == 1, text
    assert_clean_error(text)
    assert "nothing was changed" not in text, text
    assert "may or may not have been committed" in text, text
    assert db.state() == scenario.new  # it was committed after all
    (backup,) = backup_refs(scenario.repo)
    assert f"configsync rollback --to {backup}" in text
    check = configsync(scenario.repo, db.url, "plan")
    assert check.code == 0, check.text


# ---- concurrent applies --------------------------------------------------------------------
#
# Behaviour (docs/safety.md): applies serialise on one lock (PostgreSQL: an
# advisory lock and EXCLUSIVE table locks; SQLite: BEGIN IMMEDIATE). A waiter
# waits up to --lock-timeout, then re-reads the rows under the lock: if another
# apply changed rows its plan was computed against, it stops with a stale-plan
# error naming them, exit 1, nothing written. A waiter whose plan is still
# fresh proceeds in turn.

REVISIONS = 8
BUDGET = "config-snapshots/system_config/budget_limits.yaml"


def make_revisions(repo: Path, count: int) -> list[str]:
    """``count`` branches off HEAD, each a different desired state: its own
    daily cap, its own new flag, and every other one retires a setting."""
    git = pygit2.Repository(str(repo))
    base = git.head.peel(pygit2.Commit)
    budget = base.tree[BUDGET].data.decode()
    sig = pygit2.Signature("Rev Author", "rev@example.com")
    revisions = []
    for i in range(count):
        index = pygit2.Index()
        index.read_tree(base.tree)
        blob = git.create_blob(budget.replace("daily_hard_cap: 50", f"daily_hard_cap: {100 + i}"))
        index.add(pygit2.IndexEntry(BUDGET, blob, pygit2.enums.FileMode.BLOB))
        flag = f"config_key: flag-{i}\nconfig_value: true\nconfig_type: boolean\n"
        index.add(pygit2.IndexEntry(f"config-snapshots/system_config/flag-{i}.yaml", git.create_blob(flag),
                                    pygit2.enums.FileMode.BLOB))
        if i % 2:
            index.remove("config-snapshots/system_config/orchestrator_enabled.yaml")
        tree = index.write_tree(git)
        revisions.append(str(git.create_commit(f"refs/heads/rev-{i}", sig, sig, f"revision {i}", tree, [base.id])))
    return revisions


def history_revisions(url: str) -> list[str]:
    db: Db = SqliteDb(Path(url[len("sqlite:///"):])) if url.startswith("sqlite") else PgDb(url)
    return db.history()


def matching_revisions(repo: Path, url: str, revisions: Sequence[str]) -> list[str]:
    """The revisions the database equals exactly (plan: no changes)."""
    with Workspace.open(repo / "configsync.yaml", database=url) as ws:
        return [rev for rev in revisions if not ws.plan(rev).has_changes]


@contextlib.contextmanager
def apply_lock(url: str) -> Iterator[None]:
    """Hold the lock every apply takes, as a long apply would."""
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url[len("sqlite:///"):], isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            conn.execute("ROLLBACK")
            conn.close()
        return
    with psycopg.connect(url) as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_ID])
        yield


def wait_all_waiting(url: str, procs: Sequence[subprocess.Popen[bytes]], logs: Sequence[Path],
                     repo: Path, backups_before: int) -> None:
    """Until every apply has planned and waits for the lock.

    PostgreSQL shows the waiters in pg_stat_activity. A SQLite waiter is not
    visible from outside (its busy handler retries and sleeps), so the last
    step it takes before BEGIN IMMEDIATE is what is waited for: its plan is
    printed and its backup ref is written. What it does in between reads
    nothing from the database, so the plan each waiter checks under the lock
    is the one it made before the lock was released."""
    deadline = time.monotonic() + 60
    while True:
        assert all(p.poll() is None for p in procs), [output(log) for log in logs]
        if url.startswith("sqlite"):
            if (all(b"\nPlan: " in log.with_suffix(".out").read_bytes() for log in logs)
                    and len(backup_refs(repo)) == backups_before + len(procs)):
                return
        elif PgDb(url).waiting() == len(procs):
            return
        assert time.monotonic() < deadline, "the applies never all waited for the lock"
        time.sleep(0.02)


def run_together(repo: Path, url: str, revisions: Sequence[str], logs: Path, *,
                 hold: bool) -> list[tuple[str, int, str]]:
    """Start one apply per revision at once; (revision, exit code, output) each."""
    procs, paths = [], []
    backups_before = len(backup_refs(repo))
    with contextlib.ExitStack() as stack:
        if hold:
            stack.enter_context(apply_lock(url))
        for i, rev in enumerate(revisions):
            path = logs / f"{'held' if hold else 'race'}-{i}"
            paths.append(path)
            procs.append(start(repo, url, "apply", "--yes", "--ref", rev, log=path))
        if hold:
            wait_all_waiting(url, procs, paths, repo, backups_before)
    results = [(rev, p.wait(timeout=120), output(path)) for rev, p, path in zip(revisions, procs, paths, strict=True)]
    for _, code, text in results:
        assert_clean_error(text)
        assert code in (0, 1), text
        if code == 1:
            assert "the database changed since this plan was made" in text, text
            if hold:  # all planned against one state, so the winner's new cap is in every refusal
                assert "system_config budget_limits: changed" in text, text
            else:
                # Racing, a plan may be overtaken by A->B->A: the same revision applied
                # again recreates its flag with a new generated id, and only that row differs.
                # A plan with nothing to do read no rows to compare, only the tables'
                # digests, so its refusal names the table without rows.
                assert re.search(r"system_config \S+: (changed|created|deleted)", text) or (
                    "No changes." in text and "system_config (rows added, removed or edited)" in text), text
            assert "Nothing was applied." in text, text
    return results


def test_concurrent_applies_from_different_revisions(repo_path: Path, moose_url: str, tmp_path: Path) -> None:
    assert configsync(repo_path, moose_url, "snapshot", "--commit").code == 2
    revisions = make_revisions(repo_path, REVISIONS)
    logs = tmp_path / "logs"
    logs.mkdir()

    # 1. All eight plan against the same state, then wait for the lock: the
    #    first to get it applies, the other seven find their plan overtaken.
    results = run_together(repo_path, moose_url, revisions, logs, hold=True)
    winners = [rev for rev, code, _ in results if code == 0]
    assert len(winners) == 1, [(code, text[-300:]) for _, code, text in results]
    assert matching_revisions(repo_path, moose_url, revisions) == winners
    assert history_revisions(moose_url) == winners
    assert len(backup_refs(repo_path)) == 1  # the refused applies removed theirs

    # 2. Eight started together with nobody holding the lock: whatever the
    #    interleaving, each one applied in turn or was refused as stale, the
    #    history lists exactly the ones that applied, and the database is
    #    exactly the revision of the last of them.
    before = history_revisions(moose_url)
    results = run_together(repo_path, moose_url, revisions[::-1], logs, hold=False)
    applied = [rev for rev, code, _ in results if code == 0]
    history = history_revisions(moose_url)[len(before):]
    assert sorted(history) == sorted(applied) and applied
    assert matching_revisions(repo_path, moose_url, revisions) == [history[-1]]
    print(f"\n{moose_url.split(':')[0]}: {REVISIONS} applies waiting on a held lock: 1 applied, "
          f"{REVISIONS - 1} refused as stale; {REVISIONS} racing freely: {len(applied)} applied in turn, "
          f"{REVISIONS - len(applied)} refused as stale")


READER_CONFIG = """\
tables:
  system_config:
    key: config_key
    filename: "{config_key}"
    exclude: [created_at, updated_at]
  contracts:
    key: [name, version]
    filename: "{name}@{version}"
    exclude: [created_at, updated_at]
    rls: all-rows-visible  # the gate's policy holds the reader up, then shows it every row
  proposer_configs:
    key: name
    filename: "{name}"
    exclude: [created_at, updated_at]
"""


def test_snapshot_across_an_apply_reads_one_state(repo_path: Path, pg_url: str, tmp_path: Path) -> None:
    """A snapshot has read system_config and is still reading (here: stopped
    inside its read of contracts) while an apply commits changes to
    system_config and proposer_configs; it still writes proposer_configs as
    they were before the apply: one consistent read, never half of an apply."""
    from helpers import commit_all, postgres_moose

    url = postgres_moose(pg_url)
    db = PgDb(url)
    role = f"faults_reader_{uuid.uuid4().hex[:8]}"
    with db.connect() as conn:
        conn.execute("INSERT INTO contracts (name, version, specification) VALUES ('work-order-api', 'v1', '{}')")
        conn.execute(f"CREATE ROLE {role} LOGIN")
        conn.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}")
        # Row-level security stops the reader (not the apply, a superuser) inside
        # its read of contracts, for as long as this test holds the gate.
        conn.execute(f"CREATE FUNCTION faults_read_gate() RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN "
                     f"PERFORM pg_advisory_lock_shared({GATE}); PERFORM pg_advisory_unlock_shared({GATE}); "
                     "RETURN true; END $$")
        conn.execute("ALTER TABLE contracts ENABLE ROW LEVEL SECURITY")
        conn.execute("CREATE POLICY faults_read_gate ON contracts FOR SELECT USING (faults_read_gate())")
    parts = urlsplit(url)
    reader_url = urlunsplit(parts._replace(netloc=role + "@" + parts.netloc.rpartition("@")[2]))
    try:
        assert configsync(repo_path, url, "snapshot", "--commit").code == 2
        before = {path: data for path, data in _tree_files(repo_path).items()}
        budget = repo_path / BUDGET
        budget.write_text(budget.read_text().replace("daily_hard_cap: 50", "daily_hard_cap: 40"))
        mini = repo_path / "config-snapshots/proposer_configs/gpt-4o-mini.yaml"
        mini.write_text(mini.read_text().replace("context_limit: 128000", "context_limit: 64000"))
        commit_all(repo_path, "a change to two tables")

        reader = tmp_path / "reader"  # reads system_config, contracts, proposer_configs, in that order
        init_repo(reader, config=READER_CONFIG)
        log = tmp_path / "snapshot"
        with db.connect() as gate:
            gate.execute("SELECT pg_advisory_lock(%s)", [GATE])
            snap = start(reader, reader_url, "snapshot", log=log)
            deadline = time.monotonic() + 30
            while db.waiting() < 1:
                assert snap.poll() is None, output(log)
                assert time.monotonic() < deadline
                time.sleep(0.01)
            applied = configsync(repo_path, url, "apply", "--yes")
            assert applied.code == 0, applied.text
            assert "Applied: 0 created, 2 updated, 0 deleted" in applied.out
            gate.execute("SELECT pg_advisory_unlock(%s)", [GATE])
        assert snap.wait(timeout=30) == 2, output(log)
        written = {p.relative_to(reader).as_posix(): p.read_bytes()
                   for p in (reader / "config-snapshots").rglob("*.yaml")}
        assert written == before  # every file as before the apply, proposer_configs too

        assert configsync(reader, reader_url, "snapshot").code == 2  # afterwards: the applied state
        assert b"daily_hard_cap: 40" in (reader / BUDGET).read_bytes()
        assert b"context_limit: 64000" in (reader / "config-snapshots/proposer_configs/gpt-4o-mini.yaml").read_bytes()
    finally:
        with db.connect() as conn:
            conn.execute(f"DROP OWNED BY {role}")
            conn.execute(f"DROP ROLE {role}")


def _tree_files(repo: Path) -> dict[str, bytes]:
    """config-snapshots/ files at HEAD."""
    git = pygit2.Repository(str(repo))
    result: dict[str, bytes] = {}

    def walk(tree: pygit2.Tree, prefix: str) -> None:
        for entry in tree:
            path = f"{prefix}{entry.name}"
            if entry.type == pygit2.enums.ObjectType.TREE:
                walk(git[entry.id].peel(pygit2.Tree), path + "/")
            elif path.startswith("config-snapshots/"):
                result[path] = git[entry.id].peel(pygit2.Blob).data

    walk(git.head.peel(pygit2.Tree), "")
    return result


# ---- stale and racing plans (test_bad_inputs.py covers a saved plan after an
# out-of-band edit, a plan applied twice, tampered plans, another database) -----------------


def _edit(repo: Path, rel: str, old: str, new: str) -> None:
    path = repo / rel
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_two_reviewed_plans_race(repo_path: Path, moose_url: str, tmp_path: Path) -> None:
    """Two pull requests, each with a reviewed plan made against the same
    database: the first applies; the second is refused and says which rows
    the first one changed."""
    from helpers import commit_all, dump, run

    assert run(repo_path, "snapshot", "--commit", database=moose_url).code == 2
    # Plans that read every row (the snapshot's cache would let the second plan
    # skip system_config, and the refusal could then name the table alone, as
    # test_plan_cache.py::test_apply_checks_the_digest_of_tables_it_did_not_read shows).
    shutil.rmtree(repo_path / ".configsync", ignore_errors=True)
    base = pygit2.Repository(str(repo_path)).head.target
    _edit(repo_path, BUDGET, "daily_hard_cap: 50", "daily_hard_cap: 40")
    (repo_path / "config-snapshots/system_config/orchestrator_enabled.yaml").unlink()
    first = commit_all(repo_path, "PR 1")
    git = pygit2.Repository(str(repo_path))
    git.reset(base, pygit2.enums.ResetMode.HARD)
    _edit(repo_path, "config-snapshots/proposer_configs/gpt-4o-mini.yaml", "context_limit: 128000",
          "context_limit: 100000")
    second = commit_all(repo_path, "PR 2")
    plans = [tmp_path / "first.json", tmp_path / "second.json"]
    for rev, plan in zip((first, second), plans, strict=True):
        assert run(repo_path, "plan", "--ref", rev, "--out", str(plan), database=moose_url).code == 2
    assert run(repo_path, "apply", str(plans[0]), "--yes", database=moose_url).code == 0
    after_first = dump(moose_url)
    result = run(repo_path, "apply", str(plans[1]), "--yes", database=moose_url)
    assert result.code == 1, result.text
    assert "the database changed since this plan was made" in result.err
    assert "system_config budget_limits: changed" in result.err
    assert "system_config orchestrator_enabled: deleted" in result.err
    assert "Nothing was applied." in result.err
    assert dump(moose_url) == after_first


def test_write_while_waiting_for_the_lock_makes_the_plan_stale(
    repo_path: Path, moose_url: str, tmp_path: Path
) -> None:
    """The plan is fresh when made; someone writes a row while the apply waits
    for the lock (held by a long operation that did the write): under the
    lock the apply re-reads, finds the change and refuses, naming the row."""
    from helpers import commit_all, dump, run

    assert run(repo_path, "snapshot", "--commit", database=moose_url).code == 2
    _edit(repo_path, BUDGET, "daily_hard_cap: 50", "daily_hard_cap: 40")
    commit_all(repo_path, "lower the cap")
    log = tmp_path / "apply"
    edit = "UPDATE system_config SET description = 'edited meanwhile' WHERE config_key = 'routing_config'"
    if moose_url.startswith("sqlite"):
        conn = sqlite3.connect(moose_url[len("sqlite:///"):], isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        proc = start(repo_path, moose_url, "apply", "--yes", log=log)
        wait_all_waiting(moose_url, [proc], [log], repo_path, 0)
        conn.execute(edit)
        conn.execute("COMMIT")
        conn.close()
    else:
        with psycopg.connect(moose_url) as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_ID])
            proc = start(repo_path, moose_url, "apply", "--yes", log=log)
            wait_all_waiting(moose_url, [proc], [log], repo_path, 0)
            conn.execute(edit)
    before = dump(moose_url)
    assert proc.wait(timeout=60) == 1, output(log)
    text = output(log)
    assert_clean_error(text)
    assert "the database changed since this plan was made" in text
    assert "system_config routing_config: changed" in text
    assert dump(moose_url) == before  # only the meanwhile edit
    assert backup_refs(repo_path) == []
    assert run(repo_path, "apply", "--yes", database=moose_url).code == 0  # a new plan applies


def wait_for_lock_wait(db: PgDb, pid: int, done: threading.Event, timeout: float = 30) -> list[tuple[str, str]]:
    """Until session ``pid`` waits for a lock (pg_locks: not granted); the
    locks it waits for as (locktype, relation). Fails if ``done`` is set first:
    the write went through without waiting."""
    deadline = time.monotonic() + timeout
    with db.connect() as conn:
        while True:
            rows = conn.execute(
                "SELECT l.locktype, coalesce(l.relation::regclass::text, '') FROM pg_locks l "
                "JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.pid = %s AND NOT l.granted AND a.wait_event_type = 'Lock'", [pid],
            ).fetchall()
            if rows:
                return [(str(r[0]), str(r[1])) for r in rows]
            assert not done.is_set(), "the write landed while the apply's transaction was open"
            assert time.monotonic() < deadline, "the write neither waited for a lock nor finished"
            time.sleep(0.01)


@pytest.mark.parametrize("row", [0, 2], ids=["row-the-apply-updates", "row-the-apply-leaves-alone"])
def test_dashboard_write_during_apply_waits_and_lands_after(pg_scenario: Scenario, row: int) -> None:
    """While an apply is writing, an edit from the dashboard (any other
    writer) waits for its commit, then lands on top: neither is lost and they
    never interleave; the next plan shows the edit as drift. The edit waits
    for the apply's table lock (LOCK TABLE ... IN EXCLUSIVE MODE), not only
    for a row lock: an edit of a row the apply does not touch waits too, so
    nothing changes between the apply's stale check and its commit."""
    scenario, db = pg_scenario, pg_scenario.db
    assert isinstance(db, PgDb)
    key = (system_row(row, 1)["config_key"],)
    touched = scenario.old["system_config"][key] != scenario.new["system_config"][key]
    assert touched == (row == 0)
    gate = Gate(db)
    log = scenario.logs / "apply-under-edit"
    done = threading.Event()
    dashboard_conn = db.connect()

    def dashboard() -> None:
        with dashboard_conn:
            dashboard_conn.execute("UPDATE system_config SET description = 'from the dashboard' "
                                   "WHERE config_key = %s", [key[0]])
        done.set()

    try:
        proc = start(scenario.repo, db.url, *APPLY, log=log)
        gate.wait_until_stopped(proc)
        writer = threading.Thread(target=dashboard)
        writer.start()
        waits = wait_for_lock_wait(db, dashboard_conn.info.backend_pid, done)
        # the apply's table lock, whether or not it wrote this row
        assert waits == [("relation", "system_config")], waits
        assert not done.is_set()
        assert db.state() == scenario.old  # readers are not blocked, and see the old state
    finally:
        gate.open()
    assert proc.wait(timeout=60) == 0, output(log)
    writer.join(timeout=30)
    assert done.is_set()
    gate.remove()
    state = db.state()
    assert state["system_config"][key]["description"] == "from the dashboard"
    state["system_config"][key]["description"] = scenario.new["system_config"][key]["description"]
    assert state == scenario.new
    drift = configsync(scenario.repo, db.url, "plan")
    assert drift.code == 2 and "Plan: 0 to create, 1 to update, 0 to delete." in drift.out


# ---- secrets -------------------------------------------------------------------------------

SECRET_CONFIG = """\
environments:
  production: ${SUPABASE_DB_URL}
tables:
  system_config:
    key: config_key
    filename: "{config_key}"
    exclude: [created_at, updated_at]
    secret: [description]
  proposer_configs:
    key: name
    filename: "{name}"
    exclude: [created_at, updated_at]
    secret: [notes, success_patterns]
  contracts:
    key: [name, version]
    filename: "{name}@{version}"
    exclude: [created_at, updated_at]
    secret: [description]
"""


@pytest.fixture
def secret_role(pg_url: str) -> Iterator[tuple[str, str]]:
    """A login role with a password (roles belong to the whole server: dropped after)."""
    token = uuid.uuid4().hex[:10]
    role, password = f"faults_secret_{token}", f"pg-password-{token}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN SUPERUSER PASSWORD '{password}'")
    try:
        yield role, password
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f"REASSIGN OWNED BY {role} TO CURRENT_USER")
            conn.execute(f"DROP ROLE {role}")


def test_secrets_never_leave_the_database(secret_role: tuple[str, str], pg_url: str, tmp_path: Path) -> None:
    """A full scenario with secret columns (text and JSON) and a password in
    the database URL: every command's stdout and stderr, every file in the
    repository, every git object (backup refs included), the plan files, the
    history table and any crash log are searched for the secret values."""
    from helpers import commit_all, postgres_moose

    token = uuid.uuid4().hex[:10]
    secrets = {name: f"{name}-{token}" for name in
               ("notes-secret", "json-secret", "description-secret", "contract-secret", "later-secret")}
    role, password = secret_role
    postgres_moose(pg_url)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("UPDATE proposer_configs SET notes = %s, success_patterns = %s",
                     [secrets["notes-secret"], Jsonb({"api_key": secrets["json-secret"]})])
        conn.execute("UPDATE system_config SET description = %s WHERE config_key = 'budget_limits'",
                     [secrets["description-secret"]])
        conn.execute("INSERT INTO contracts (name, version, specification, description) "
                     "VALUES ('billing-api', 'v1', '{\"openapi\": \"3.1.0\"}', %s)", [secrets["contract-secret"]])
    parts = urlsplit(pg_url)
    url = urlunsplit(parts._replace(netloc=f"{role}:{password}@" + parts.netloc.rpartition("@")[2]))
    unreachable = f"postgresql://{role}:{password}@127.0.0.1:1/postgres"
    repo = tmp_path / "repo"
    init_repo(repo, config=SECRET_CONFIG)
    crash_dir = tmp_path / "tmp"
    crash_dir.mkdir()
    outputs: list[str] = []

    def cs(*args: str, database: str | None = url, env: dict[str, str] | None = None) -> Run:
        began = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-m", "configsync", *(["--database", database] if database else []), *args],
            cwd=repo, capture_output=True, text=True, timeout=120, check=False,
            env={**os.environ, "TMPDIR": str(crash_dir), **(env or {})},
        )
        run = Run(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - began)
        outputs.append(f"$ configsync {' '.join(args)}\n{run.text}")
        assert_clean_error(run)
        return run

    assert cs("snapshot", "--commit").code == 2
    for fmt in ("text", "json", "github"):
        assert cs("validate", "--format", fmt, database=None).code == 0
    assert cs("schema", "infer").code == 0
    assert cs("schema", "check").code in (0, 2)
    assert cs("status").code in (0, 2)

    # a reviewed change touching rows that hold secrets: update, delete, create
    _edit(repo, BUDGET, "daily_hard_cap: 50", "daily_hard_cap: 45")
    _edit(repo, "config-snapshots/proposer_configs/gpt-4o-mini.yaml", "context_limit: 128000", "context_limit: 100000")
    (repo / "config-snapshots/proposer_configs/claude-sonnet-4-5.yaml").unlink()
    new = (repo / "config-snapshots/proposer_configs/gpt-4o-mini.yaml").read_text()
    new = "\n".join(line for line in new.splitlines() if not line.startswith("id:")) + "\n"
    (repo / "config-snapshots/proposer_configs/gpt-5-mini.yaml").write_text(new.replace("gpt-4o-mini", "gpt-5-mini"))
    commit_all(repo, "a change to rows with secrets")
    plan_file = tmp_path / "plan.json"
    for fmt in ("text", "json", "markdown"):
        assert cs("plan", "--format", fmt).code == 2
    assert cs("plan", "--out", str(plan_file)).code == 2
    assert cs("diff", "HEAD~1", database=None).code == 2
    assert cs("history", "proposer_configs/gpt-4o-mini", database=None).code == 0
    assert cs("apply", str(plan_file), "--yes").code == 0
    assert cs("apply", str(plan_file), "--yes").code == 1  # already applied
    assert cs("status", env={"CONFIGSYNC_DATABASE_URL": url}, database=None).code == 0

    # stale: a row with a secret changes out of band after the plan was saved
    _edit(repo, BUDGET, "daily_hard_cap: 45", "daily_hard_cap: 44")
    commit_all(repo, "again")
    stale_plan = tmp_path / "stale.json"
    assert cs("plan", "--out", str(stale_plan)).code == 2
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("UPDATE system_config SET config_type = 'json', description = %s "
                     "WHERE config_key = 'budget_limits'", [secrets["later-secret"]])
        conn.execute("UPDATE proposer_configs SET context_limit = 99, notes = %s WHERE name = 'gpt-4o-mini'",
                     [secrets["later-secret"]])
    assert cs("apply", str(stale_plan), "--yes").code == 1

    # the database refuses a row that holds secrets (its error details list every column)
    (repo / "schemas/proposer_configs.schema.json").write_text('{"type": "object"}\n')
    _edit(repo, "config-snapshots/proposer_configs/gpt-4o-mini.yaml", "complexity_threshold: 0.3",
          "complexity_threshold: 2")
    commit_all(repo, "a value the database refuses")
    failed = cs("apply", "--yes", "--overwrite-drift")  # over the out-of-band edits above: to reach the database
    assert failed.code == 1 and "violates check constraint" in failed.err, failed.text

    # drift, rollback, restore from the backup ref
    assert cs("snapshot").code == 2
    assert cs("validate", database=None).code in (0, 1)
    git = pygit2.Repository(str(repo))
    git.checkout_head(strategy=pygit2.enums.CheckoutStrategy.FORCE)
    for path in git.status():
        if path.startswith("config-snapshots/"):
            (repo / path).unlink()
    assert cs("rollback", "HEAD", "--yes", "--allow-mass-delete").code == 0
    (backup, *_) = backup_refs(repo)
    assert cs("rollback", "--to", backup, "--yes", "--allow-mass-delete").code == 0

    # connection failures print the URL, never its password
    for env in ({"CONFIGSYNC_DATABASE_URL": unreachable}, {"SUPABASE_DB_URL": unreachable}):
        args = ("--env", "production", "plan") if "SUPABASE_DB_URL" in env else ("plan",)
        assert cs(*args, database=None, env=env).code == 1
    assert cs("apply", "--yes", database=unreachable).code == 1
    assert cs("snapshot", database=f"host=127.0.0.1 port=1 user={role} password={password}").code == 1

    # everything configsync wrote or printed
    haystack: dict[str, bytes] = {f"output {i}": text.encode() for i, text in enumerate(outputs)}
    for path in [*repo.rglob("*"), *tmp_path.glob("*.json"), *crash_dir.rglob("*")]:
        if path.is_file() and "objects" not in path.parts:
            haystack[str(path)] = path.read_bytes()
    for oid in git.odb:
        haystack[f"git object {oid}"] = git.odb.read(oid)[1]
    with psycopg.connect(pg_url) as conn:
        haystack["history table"] = repr(conn.execute(f"SELECT * FROM {HISTORY}").fetchall()).encode()
    assert backup_refs(repo) and haystack["history table"] != b"[]"
    leaks = [(where, name) for where, data in haystack.items()
             for name, value in [*secrets.items(), ("password", password)] if value.encode() in data]
    assert not leaks, [(where, name, haystack[where][:800]) for where, name in leaks]
    print(f"\nsecrets: {len(outputs)} commands, {len(haystack)} outputs, files, git objects and tables "
          f"searched for {len(secrets)} secret values and the URL's password: none found")

    # the secrets are still in the database, untouched by every apply
    with psycopg.connect(pg_url) as conn:
        notes = dict(conn.execute("SELECT name, notes FROM proposer_configs").fetchall())
    assert notes["gpt-4o-mini"] == secrets["later-secret"]
    # A row deleted and restored from git comes back without its secrets: git never had them.
    assert notes["claude-sonnet-4-5"] is None


# ---- database errors on rows that hold secrets ----------------------------------
#
# Every 23xxx class, raised by an apply on a row whose secret column holds a
# recognisable value: PostgreSQL puts that value in the error's detail
# ("Failing row contains (...)", "Key (tenant, api_key)=(t1, sk-live-...)").
# Shared with test_rest.py (the REST backend and the SQL function).

KEY_CONFIG = """\
tables:
  api_keys:
    key: name
    secret: [api_key]
  key_uses:
    key: name
    secret: [api_key]
"""

KEY_TABLES = ("api_keys", "key_uses")


def key_tables(db: str, secret: str) -> None:
    """Two tables whose constraints all involve the secret column, or list the
    whole row when they fail; two keys share ``secret`` (tenants differ, one active)."""
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("""
            CREATE TABLE public.api_keys (
                name text PRIMARY KEY,
                tenant text NOT NULL,
                api_key text,
                quota integer NOT NULL CONSTRAINT api_keys_quota_check CHECK (quota >= 0),
                tier text NOT NULL,
                active boolean NOT NULL,
                CONSTRAINT api_keys_tenant_key UNIQUE (tenant, api_key),
                CONSTRAINT api_keys_one_active EXCLUDE USING hash (api_key WITH =) WHERE (active)
            );
            CREATE TABLE public.key_uses (
                name text PRIMARY KEY,
                tenant text NOT NULL,
                api_key text,
                CONSTRAINT key_uses_key FOREIGN KEY (tenant, api_key) REFERENCES public.api_keys (tenant, api_key)
            );
            -- 'none' means no tier: NULL, which the column refuses (the NOT NULL error lists the row)
            CREATE FUNCTION public.api_keys_tier() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN NEW.tier := nullif(NEW.tier, 'none'); RETURN NEW; END $$;
            CREATE TRIGGER api_keys_tier BEFORE UPDATE ON public.api_keys
                FOR EACH ROW EXECUTE FUNCTION public.api_keys_tier();
        """)
        conn.execute("INSERT INTO api_keys VALUES ('alpha', 't1', %s, 10, 'free', true), "
                     "('beta', 't2', %s, 10, 'free', false)", [secret, secret])
        conn.execute("INSERT INTO key_uses VALUES ('use1', 't1', %s)", [secret])


# (SQLSTATE, record file, the edit, the operation as the SQL function gets it, what the error names)
KEY_ERRORS: list[tuple[str, str, tuple[str, str], dict[str, Any], str]] = [
    ("23505", "api_keys/beta.yaml", ("tenant: t2", "tenant: t1"),
     {"action": "update", "table": "api_keys", "key": {"name": "beta"}, "values": {"tenant": "t1"}},
     'unique constraint "api_keys_tenant_key" (Key (tenant, api_key) already exists)'),
    ("23P01", "api_keys/beta.yaml", ("active: false", "active: true"),
     {"action": "update", "table": "api_keys", "key": {"name": "beta"}, "values": {"active": True}},
     'exclusion constraint "api_keys_one_active" (Key (api_key) conflicts with an existing key)'),
    ("23514", "api_keys/alpha.yaml", ("quota: 10", "quota: -5"),
     {"action": "update", "table": "api_keys", "key": {"name": "alpha"}, "values": {"quota": -5}},
     'violates check constraint "api_keys_quota_check"'),
    ("23502", "api_keys/alpha.yaml", ("tier: free", "tier: none"),
     {"action": "update", "table": "api_keys", "key": {"name": "alpha"}, "values": {"tier": "none"}},
     'null value in column "tier" of relation "api_keys" violates not-null constraint'),
    ("23503", "key_uses/use1.yaml", ("tenant: t1", "tenant: t9"),
     {"action": "update", "table": "key_uses", "key": {"name": "use1"}, "values": {"tenant": "t9"}},
     'foreign key constraint "key_uses_key" (Key (tenant, api_key) is not present in table "api_keys")'),
]


def assert_database_errors_hide_secrets(repo: Path, db: str, secret: str, cli: Callable[..., Result]) -> None:
    """Each error of KEY_ERRORS through the CLI: exit 1, the constraint named,
    the secret nowhere (plan, saved plan, apply), the database untouched."""
    from helpers import commit_all, dump

    for state, record, (old, new), _op, says in KEY_ERRORS:
        path = repo / "config-snapshots" / record
        original = path.read_text()
        assert old in original, original
        path.write_text(original.replace(old, new))
        commit_all(repo, f"a change the database refuses ({state})")
        before = dump(db, KEY_TABLES)
        shown = [cli("plan", "--format", fmt) for fmt in ("text", "json", "markdown")]
        assert all(r.code == 2 for r in shown), shown
        plan_file = repo.parent / f"plan-{state}.json"
        assert cli("plan", "--out", str(plan_file)).code == 2
        failed = cli("apply", str(plan_file), "--yes")
        again = cli("apply", "--yes")
        for result in (failed, again):
            assert result.code == 1, (state, result)
            assert says in result.err, (state, result.err)
            assert "Traceback" not in result.text
        for text in [r.text for r in (*shown, failed, again)] + [plan_file.read_text()]:
            assert secret not in text, (state, text)
        assert dump(db, KEY_TABLES) == before, state
        path.write_text(original)
        commit_all(repo, "back")


def test_database_errors_never_show_a_secret_value(pg_url: str, tmp_path: Path) -> None:
    """Unique, exclusion, check, not-null and foreign key violations on rows
    whose secret column holds a key: PostgreSQL's details list that key."""
    from helpers import permissive_repo, run

    secret = f"sk-live-{uuid.uuid4().hex}"
    key_tables(pg_url, secret)
    repo = permissive_repo(tmp_path / "repo", KEY_CONFIG, KEY_TABLES, "schemas")

    def cli(*args: str) -> Result:
        return run(repo, *args, database=pg_url)

    assert cli("snapshot", "--commit").code == 2
    assert_database_errors_hide_secrets(repo, pg_url, secret, cli)
