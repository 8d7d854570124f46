"""The in-sync cache: a table whose files and rows an earlier plan found in
sync is not read again. It may only ever skip work, so after every kind of
change a cached plan must say exactly what a full plan says."""
from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pygit2
import pytest
from configsync.workspace import Workspace
from helpers import commit_all, dump, execute, init_repo, postgres_moose, run, sqlite_moose


def plans(repo: Path, url: str) -> tuple[list[object], list[object], set[str]]:
    """(cached plan's changes, full plan's changes, tables the cached plan skipped)."""
    with Workspace.open(repo / "configsync.yaml", database=url) as ws:
        skipped: set[str] = set()
        read_unless = ws.backend.read_unless

        def spy(specs, skip):  # type: ignore[no-untyped-def]
            rows, digests = read_unless(specs, skip)
            skipped.update(t for t, r in rows.items() if r is None)
            return rows, digests

        ws.backend.read_unless = spy  # type: ignore[method-assign]
        cached = [c.to_json() for c in ws.plan(use_cache=True).changes]
        full = [c.to_json() for c in ws.plan().changes]
    return cached, full, skipped


def edit(repo: Path, path: str, old: str, new: str) -> None:
    file = repo / "config-snapshots" / path
    file.write_text(file.read_text().replace(old, new))
    commit_all(repo, f"edit {path}")


Step = Callable[[Path, str], None]
STEPS: list[tuple[str, Step, set[str]]] = [
    ("database row changed", lambda r, u: execute(u, "UPDATE system_config SET description = 'x' "
                                                  "WHERE config_key = 'budget_limits'"), {"system_config"}),
    ("database row added", lambda r, u: execute(u, "INSERT INTO contracts (name, version, specification) "
                                                "VALUES ('c', '1', '{}')"), {"contracts"}),
    ("file edited", lambda r, u: edit(r, "proposer_configs/gpt-4o-mini.yaml", "context_limit: 128000",
                                      "context_limit: 64000"), {"proposer_configs"}),
    ("comment added (no change)", lambda r, u: edit(r, "proposer_configs/gpt-4o-mini.yaml", "is_active:",
                                                    "# reviewed\nis_active:"), set()),
    ("schema changed", lambda r, u: (
        (r / "schemas/system_config.schema.json").write_text(
            json.dumps({**json.loads((r / "schemas/system_config.schema.json").read_text()), "title": "t"})),
        commit_all(r, "schema")), set()),
    ("same number, other scale, in the database (no change)",
     lambda r, u: execute(u, "UPDATE proposer_configs SET complexity_threshold = complexity_threshold + 0.000"), set()),
]


def test_cached_plan_equals_full_plan_after_every_change(repo_path: Path, pg_url: str) -> None:
    url = postgres_moose(pg_url)
    assert run(repo_path, "snapshot", "--commit", database=url).code == 2
    shutil.rmtree(repo_path / ".configsync")  # what the snapshot left: see test_warm_paths
    cached, full, skipped = plans(repo_path, url)
    assert cached == full == [] and skipped == set()  # cold cache: everything read
    cached, full, skipped = plans(repo_path, url)
    assert cached == full == [] and skipped == {"system_config", "proposer_configs", "contracts"}
    for label, step, changed in STEPS:
        step(repo_path, url)
        cached, full, skipped = plans(repo_path, url)
        assert cached == full, label
        assert {c["table"] for c in full} == changed, label  # type: ignore[index]
        # what changed was read again; the untouched tables were not
        assert not (changed & skipped), label
        run(repo_path, "apply", "--yes", "--allow-mass-delete", database=url)
        run(repo_path, "snapshot", "--commit", database=url)


@pytest.mark.parametrize("where", ["overlay", "stray file"])
def test_cache_is_not_used_when_the_directory_holds_more_than_tables(repo_path: Path, pg_url: str, where: str) -> None:
    url = postgres_moose(pg_url)
    run(repo_path, "snapshot", "--commit", database=url)
    plans(repo_path, url)
    target = (repo_path / "config-snapshots/_environments/staging/contracts/x.yaml" if where == "overlay"
              else repo_path / "config-snapshots/README.yaml")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("name: x\n")
    commit_all(repo_path, where)
    with Workspace.open(repo_path / "configsync.yaml", database=url) as ws:
        with pytest.raises(Exception) as raised:
            ws.plan(use_cache=True)
    assert str(target.relative_to(repo_path)) in str(raised.value)  # validated, not skipped


def test_snapshot_skips_only_what_is_known_in_sync(repo_path: Path, pg_url: str) -> None:
    url = postgres_moose(pg_url)
    assert run(repo_path, "snapshot", "--commit", database=url).code == 2
    path = repo_path / "config-snapshots/system_config/orchestrator_enabled.yaml"
    committed = path.read_bytes()
    with Workspace.open(repo_path / "configsync.yaml", database=url) as ws:
        assert not ws.snapshot().drift
    # an uncommitted edit in the work tree: that table is read and the file restored
    path.write_text(path.read_text().replace("config_value: false", "config_value: true"))
    assert run(repo_path, "snapshot", database=url).code == 2
    assert path.read_bytes() == committed
    # a change in the database is drift, whatever the cache holds
    execute(url, "UPDATE system_config SET config_value = 'true' WHERE config_key = 'orchestrator_enabled'")
    assert run(repo_path, "snapshot", "--commit", database=url).code == 2
    assert b"config_value: true" in path.read_bytes()
    assert run(repo_path, "snapshot", database=url).code == 0
    execute(url, "DELETE FROM proposer_configs WHERE name = 'gpt-4o-mini'")
    result = run(repo_path, "snapshot", database=url)
    assert result.code == 2 and "proposer_configs 1 removed" in result.out


def test_validate_then_plan_uses_what_snapshot_and_validate_established(repo_path: Path, pg_url: str) -> None:
    """snapshot --commit knows the rows match the files; validate knows the
    files pass their schemas: together, a plan has nothing left to read."""
    url = postgres_moose(pg_url)
    run(repo_path, "snapshot", "--commit", database=url)
    assert run(repo_path, "validate").code == 0
    cached, full, skipped = plans(repo_path, url)
    assert cached == full == [] and skipped == {"system_config", "proposer_configs", "contracts"}
    # a file that breaks its schema is never let through on the strength of the cache
    path = repo_path / "config-snapshots/proposer_configs/gpt-4o-mini.yaml"
    path.write_text(path.read_text().replace("is_active: true", "is_active: maybe"))
    commit_all(repo_path, "invalid")
    assert run(repo_path, "validate").code == 1
    result = run(repo_path, "plan", database=url)
    assert result.code == 1 and "gpt-4o-mini.yaml" in result.err


def test_apply_checks_the_digest_of_tables_it_did_not_read(repo_path: Path, pg_url: str, tmp_path: Path) -> None:
    url = postgres_moose(pg_url)
    run(repo_path, "snapshot", "--commit", database=url)
    plans(repo_path, url)  # now known in sync
    edit(repo_path, "proposer_configs/gpt-4o-mini.yaml", "context_limit: 128000", "context_limit: 64000")
    saved = tmp_path / "plan.json"
    with Workspace.open(repo_path / "configsync.yaml", database=url) as ws:
        plan = ws.plan(use_cache=True)
        assert plan.unread == ["system_config", "contracts"] or set(plan.unread) == {"system_config", "contracts"}
        plan.save(saved)
    # someone edits a table the plan did not read: the saved plan is stale
    execute(url, "UPDATE system_config SET description = 'dashboard edit' WHERE config_key = 'budget_limits'")
    result = run(repo_path, "apply", str(saved), "--yes", database=url)
    assert result.code == 1 and "system_config" in result.err and "changed since this plan was made" in result.err
    assert "64000" not in str(dump(url))
    # a fresh plan reads system_config again and apply goes through
    assert run(repo_path, "apply", "--yes", database=url).code == 0
    rows = dump(url)
    assert "64000" in str(rows) and "dashboard edit" not in str(rows)


def test_the_cache_directory_ignores_itself(tmp_path: Path) -> None:
    """A plain `git add -A` after any command commits nothing of .configsync/."""
    repo = tmp_path / "repo"
    init_repo(repo)
    (repo / ".gitignore").unlink()  # a user's repository without our ignore line
    commit_all(repo, "no .gitignore")
    db = sqlite_moose(tmp_path / "db.sqlite")
    assert run(repo, "snapshot", "--commit", database=db).code == 2
    assert run(repo, "validate").code == 0
    assert (repo / ".configsync/cache.sqlite").is_file()
    git = pygit2.Repository(str(repo))
    assert not [p for p, flags in git.status().items() if not flags & pygit2.enums.FileStatus.IGNORED], git.status()
    assert git.path_is_ignored(".configsync/cache.sqlite") and git.path_is_ignored(".configsync/local.db")


@pytest.mark.parametrize("setting", ["exclude", "secret", "key"])
def test_validate_cache_follows_configsync_yaml(tmp_path: Path, setting: str) -> None:
    """validate after a configsync.yaml edit gives the same answer warm as cold
    (it said "All record files are valid" from a cache made under the old settings)."""
    repo = tmp_path / "repo"
    init_repo(repo)
    db = sqlite_moose(tmp_path / "db.sqlite")
    assert run(repo, "snapshot", "--commit", database=db).code == 2
    assert run(repo, "validate").code == 0  # the cache now knows these trees are valid
    config = repo / "configsync.yaml"
    text = config.read_text()
    edited = {
        "exclude": text.replace('filename: "{name}"\n    exclude: [created_at, updated_at]\n',
                                'filename: "{name}"\n    exclude: [created_at, updated_at, endpoint]\n', 1),
        "secret": text.replace("  proposer_configs:\n", "  proposer_configs:\n    secret: [endpoint]\n", 1),
        "key": text.replace('    key: name\n    filename: "{name}"\n', '    key: provider\n    filename: "{provider}"\n', 1),
    }[setting]
    assert edited != text, "the edit must change configsync.yaml"
    config.write_text(edited)
    commit_all(repo, f"{setting} setting")
    warm = run(repo, "validate")
    shutil.rmtree(repo / ".configsync")
    cold = run(repo, "validate")
    assert cold.code == 1, cold.text
    assert "config-snapshots/proposer_configs/" in cold.out, cold.text  # a record file's problem, not the config's
    assert (warm.code, warm.out) == (cold.code, cold.out)
