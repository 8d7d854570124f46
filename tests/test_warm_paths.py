"""What `snapshot --commit` leaves the next plan, and the no-drift snapshot's
git status found while the database computes its digests.

A snapshot that created every record file of a table from the rows validates
them as a plan would, from those rows: the plan right after it reads and
parses nothing. It may only ever skip work: a cached plan must say exactly
what a full plan says (the same changes, the same problems), and a file the
schema refuses is never let through on the strength of the snapshot."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from configsync import shortcuts
from configsync.errors import ValidationError
from configsync.workspace import Workspace
from helpers import commit_all, execute, postgres_moose, run
from test_plan_cache import plans

TABLES = {"system_config", "proposer_configs", "contracts"}


def test_plan_right_after_snapshot_commit_reads_nothing(repo_path: Path, pg_url: str) -> None:
    url = postgres_moose(pg_url)
    assert run(repo_path, "snapshot", "--commit", database=url).code == 2
    cached, full, skipped = plans(repo_path, url)
    assert cached == full == [] and skipped == TABLES
    assert run(repo_path, "plan", database=url).code == 0


def test_snapshot_commit_leaves_nothing_when_it_did_not_write_the_files(repo_path: Path, pg_url: str) -> None:
    """Files kept from before (a person's layout, values the database assigned
    left out) are not the snapshot's rendering: the plan reads that table."""
    url = postgres_moose(pg_url)
    assert run(repo_path, "snapshot", "--commit", database=url).code == 2
    shutil.rmtree(repo_path / ".configsync")
    execute(url, "UPDATE system_config SET description = 'x' WHERE config_key = 'budget_limits'")
    assert run(repo_path, "snapshot", "--commit", database=url).code == 2  # one file of system_config updated
    cached, full, skipped = plans(repo_path, url)
    assert cached == full == [] and "system_config" not in skipped


def refuse_long_contexts(repo: Path, url: str) -> None:
    path = repo / "schemas/proposer_configs.schema.json"
    schema = json.loads(path.read_text())
    schema["properties"]["context_limit"]["maximum"] = 1000
    path.write_text(json.dumps(schema, indent=2) + "\n")
    commit_all(repo, "a schema the rows break")


def test_snapshot_never_vouches_for_a_row_its_schema_refuses(repo_path: Path, pg_url: str) -> None:
    url = postgres_moose(pg_url)
    refuse_long_contexts(repo_path, url)
    assert run(repo_path, "snapshot", "--commit", database=url).code == 2  # as before: written and committed
    for _ in range(2):  # and a plan that failed remembered nothing either
        with Workspace.open(repo_path / "configsync.yaml", database=url) as ws:
            with pytest.raises(ValidationError) as cached:
                ws.plan(use_cache=True)
            with pytest.raises(ValidationError) as full:
                ws.plan()
        assert cached.value.problems == full.value.problems
        assert any("proposer_configs/" in p.file for p in cached.value.problems)
    result = run(repo_path, "plan", database=url)
    assert result.code == 1 and "config-snapshots/proposer_configs/" in result.err


Step = Callable[[Path, str], None]


def edit_file(repo: Path, url: str) -> None:
    path = repo / "config-snapshots/proposer_configs/gpt-4o-mini.yaml"
    path.write_text(path.read_text().replace("context_limit: 128000", "context_limit: 64000"))
    commit_all(repo, "edit")


def edit_row(repo: Path, url: str) -> None:
    execute(url, "UPDATE proposer_configs SET context_limit = 64000 WHERE name = 'gpt-4o-mini'")


def edit_schema(repo: Path, url: str) -> None:
    path = repo / "schemas/proposer_configs.schema.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "title": "t"}))
    commit_all(repo, "schema")


@pytest.mark.parametrize(("label", "step", "changed"), [
    ("a file edited after the snapshot", edit_file, {"proposer_configs"}),
    ("the database changed", edit_row, {"proposer_configs"}),
    ("the schema changed", edit_schema, set()),
])
def test_plan_after_snapshot_commit_reads_what_changed(repo_path: Path, pg_url: str, label: str, step: Step,
                                                       changed: set[str]) -> None:
    url = postgres_moose(pg_url)
    assert run(repo_path, "snapshot", "--commit", database=url).code == 2
    step(repo_path, url)
    cached, full, skipped = plans(repo_path, url)
    assert cached == full, label
    assert {c["table"] for c in full} == changed, label  # type: ignore[index]
    assert "proposer_configs" not in skipped, label
    assert {"system_config", "contracts"} <= skipped, label


def test_plan_of_another_database_reads_it(repo_path: Path, pg_url: str, pg_copy_url: str) -> None:
    url, other = postgres_moose(pg_url), postgres_moose(pg_copy_url)
    assert run(repo_path, "snapshot", "--commit", database=url).code == 2
    cached, full, skipped = plans(repo_path, other)  # the same rows, another URL
    assert cached == full == [] and skipped == set()


def test_no_drift_snapshot_waits_for_status_and_agrees_with_it(repo_path: Path, pg_url: str) -> None:
    """The work tree's status is found by a child process; the backend's skip
    waits for it, so an uncommitted edit is seen as surely as before."""
    url = postgres_moose(pg_url)
    assert run(repo_path, "snapshot", "--commit", database=url).code == 2
    seen: list[set[str]] = []
    with Workspace.open(repo_path / "configsync.yaml", database=url) as ws:
        read_unless = ws.backend.read_unless

        def spy(specs, skip):  # type: ignore[no-untyped-def]
            rows, digests = read_unless(specs, skip)
            seen.append({t for t, r in rows.items() if r is None})
            return rows, digests

        ws.backend.read_unless = spy  # type: ignore[method-assign]
        assert not ws.snapshot().drift
        assert seen[-1] == TABLES
        path = repo_path / "config-snapshots/system_config/orchestrator_enabled.yaml"
        committed = path.read_bytes()
        path.write_text(path.read_text().replace("config_value: false", "config_value: true"))
        result = ws.snapshot()
        assert seen[-1] == TABLES - {"system_config"}
        assert result.drift and path.read_bytes() == committed


def test_pending_set_answers_from_its_child_or_else_itself(tmp_path: Path) -> None:
    calls = tmp_path / "calls"

    def compute() -> set[str]:
        with calls.open("a") as out:  # the child's writes show in the parent's file
            out.write(f"{os.getpid()}\n")
        return {"a", "b"}

    pending = shortcuts.Pending(compute)
    assert set(pending) == {"a", "b"} and "a" in pending and len(pending) == 2
    assert calls.read_text().split() != [str(os.getpid())]  # computed by another process

    def fail() -> set[str]:
        raise OSError("status failed")

    with pytest.raises(OSError, match="status failed"):  # the child failed: computed here, raising here
        "x" in shortcuts.Pending(fail)  # noqa: B015 - asked for its effect


def test_a_warm_plan_loads_neither_json_schema_nor_apply(repo_path: Path, pg_url: str) -> None:
    """A plan that skips every table validates no file: JSON Schema, apply and
    rollbacks are not imported (a tenth of a second of a one-second command);
    one with something to read loads them as before."""
    url = postgres_moose(pg_url)
    assert run(repo_path, "snapshot", "--commit", database=url).code == 2
    probe = (
        "import sys\n"
        "from configsync.cli import cli\n"
        f"code = cli.main(args=['--database', {url!r}, 'plan'], prog_name='configsync', standalone_mode=False)\n"
        "heavy = ('jsonschema', 'configsync.validation', 'configsync.applier', 'configsync.rollbacks')\n"
        "print('loaded:', code, *sorted(m for m in sys.modules if m in heavy))\n"
    )

    def loaded() -> str:
        result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=repo_path)
        return result.stdout.splitlines()[-1] if result.stdout else result.stderr

    assert run(repo_path, "plan", database=url).code == 0  # configsync.yaml's check is cached from here on (config.py)
    assert loaded() == "loaded: 0"
    execute(url, "UPDATE proposer_configs SET context_limit = 64000 WHERE name = 'gpt-4o-mini'")
    assert loaded() == "loaded: 2 configsync.validation jsonschema"
