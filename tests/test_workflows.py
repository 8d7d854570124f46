"""Rollback variants, table modes, secrets, saved plans, the apply lock, validate formats."""
from __future__ import annotations

import json
import threading
from pathlib import Path

import psycopg
import pygit2
from configsync.backends.pgcommon import LOCK_ID
from helpers import commit_all, dump, head, init_repo, is_clean, run


def snapshot(repo_path: Path, url: str) -> None:
    assert run(repo_path, "snapshot", "--commit", database=url).code == 2


def edit(repo_path: Path, rel: str, old: str, new: str) -> None:
    path = repo_path / "config-snapshots" / rel
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_rollback_conflict_changes_nothing(repo_path: Path, moose_url: str) -> None:
    snapshot(repo_path, moose_url)
    edit(repo_path, "system_config/budget_limits.yaml", "daily_hard_cap: 50", "daily_hard_cap: 40")
    target = commit_all(repo_path, "cap 40")
    edit(repo_path, "system_config/budget_limits.yaml", "daily_hard_cap: 40", "daily_hard_cap: 30")
    commit_all(repo_path, "cap 30")
    assert run(repo_path, "apply", "--yes", database=moose_url).code == 0
    before_db, before_head = dump(moose_url), head(repo_path)
    result = run(repo_path, "rollback", target, "--yes", database=moose_url)
    assert result.code == 1
    assert "conflicts with later changes to config-snapshots/system_config/budget_limits.yaml" in result.err
    assert "nothing was changed" in result.err
    assert (dump(moose_url), head(repo_path)) == (before_db, before_head)
    assert is_clean(repo_path)


def test_rollback_dry_run_and_no_apply(repo_path: Path, moose_url: str) -> None:
    snapshot(repo_path, moose_url)
    (repo_path / "config-snapshots/proposer_configs/gpt-4o-mini.yaml").unlink()
    commit_all(repo_path, "retire gpt-4o-mini")
    assert run(repo_path, "apply", "--yes", database=moose_url).code == 0
    state, tip = dump(moose_url), head(repo_path)

    result = run(repo_path, "rollback", "HEAD", "--dry-run", database=moose_url)
    assert result.code == 0, result.text
    assert "+ gpt-4o-mini" in result.out
    assert "Rollback: 1 to create, 0 to update, 0 to delete." in result.out  # as the real one says it
    assert (dump(moose_url), head(repo_path)) == (state, tip)

    result = run(repo_path, "rollback", "HEAD", "--no-apply", database=moose_url)
    assert result.code == 0, result.text
    assert head(repo_path) != tip
    assert (repo_path / "config-snapshots/proposer_configs/gpt-4o-mini.yaml").exists()
    assert dump(moose_url) == state
    assert run(repo_path, "plan", database=moose_url).code == 2


def test_rollback_of_a_merge_undoes_the_pull_request(repo_path: Path, moose_url: str) -> None:
    snapshot(repo_path, moose_url)
    repo = pygit2.Repository(str(repo_path))
    base = repo.head.target
    edit(repo_path, "system_config/orchestrator_max_concurrent.yaml", "config_value: 3", "config_value: 8")
    feature = commit_all(repo_path, "feature: more workers")
    # a merge commit, as GitHub makes for a merged PR
    repo.reset(base, pygit2.enums.ResetMode.HARD)
    sig = pygit2.Signature("t", "t@example.com")
    merge = repo.create_commit("HEAD", sig, sig, "Merge pull request #1", repo[feature].tree.id, [base, pygit2.Oid(hex=feature)])
    repo.checkout_head(strategy=pygit2.enums.CheckoutStrategy.FORCE)
    assert run(repo_path, "apply", "--yes", database=moose_url).code == 0
    result = run(repo_path, "rollback", str(merge), "--yes", database=moose_url)
    assert result.code == 0, result.text
    assert "config_value: 8 -> 3" in result.out


def test_upsert_and_seed_modes(tmp_path: Path, moose_url: str) -> None:
    config = (Path(__file__).resolve().parent.parent / "configsync.yaml").read_text()
    config = config.replace("    filename: \"{config_key}\"\n", "    filename: \"{config_key}\"\n    mode: seed\n")
    config = config.replace("    filename: \"{name}\"\n", "    filename: \"{name}\"\n    mode: upsert\n")
    path = tmp_path / "modes"
    init_repo(path, config=config)
    snapshot(path, moose_url)
    edit(path, "system_config/budget_limits.yaml", "daily_hard_cap: 50", "daily_hard_cap: 1")  # seed: ignored
    (path / "config-snapshots/system_config/routing_config.yaml").unlink()  # seed: never deleted
    edit(path, "proposer_configs/gpt-4o-mini.yaml", "context_limit: 128000", "context_limit: 1000")  # upsert: updated
    (path / "config-snapshots/proposer_configs/claude-sonnet-4-5.yaml").unlink()  # upsert: never deleted
    commit_all(path, "changes the modes mostly ignore")
    result = run(path, "plan", "--format", "json", database=moose_url)
    changes = json.loads(result.out)["changes"]
    assert [(c["table"], c["action"], c["key"]) for c in changes] == [
        ("proposer_configs", "update", {"name": "gpt-4o-mini"})
    ]


def test_secret_columns_never_leave_the_database(tmp_path: Path, moose_url: str) -> None:
    config = (Path(__file__).resolve().parent.parent / "configsync.yaml").read_text()
    config = config.replace(
        "    filename: \"{name}\"\n    exclude: [created_at, updated_at]\n",
        "    filename: \"{name}\"\n    exclude: [created_at, updated_at]\n    secret: [notes]\n",
    )
    path = tmp_path / "secret"
    init_repo(path, config=config)
    secret = "Cost-optimized fallback"
    snapshot(path, moose_url)
    edit(path, "proposer_configs/gpt-4o-mini.yaml", "context_limit: 128000", "context_limit: 100000")
    commit_all(path, "smaller context")
    outputs = [run(path, "plan", "--format", fmt, database=moose_url).text for fmt in ("text", "json", "markdown")]
    applied = run(path, "apply", "--yes", database=moose_url)
    assert applied.code == 0, applied.text
    outputs.append(applied.text)
    files = [p.read_text() for p in (path / "config-snapshots").rglob("*.yaml")]
    repo = pygit2.Repository(str(path))
    backups = [repo[repo.references[r].target].tree for r in repo.references if r.startswith("refs/configsync/")]
    blobs = [repo[e.id].data.decode() for t in backups for e in _walk(repo, t)]
    assert backups and all(secret not in text for text in outputs + files + blobs)
    # the secret value is still in the database, untouched
    assert any(secret in str(row) for row in dump(moose_url)["proposer_configs"])


def _walk(repo: pygit2.Repository, tree: pygit2.Tree) -> list[pygit2.Object]:
    found = []
    for entry in tree:
        if entry.type == pygit2.enums.ObjectType.TREE:
            found += _walk(repo, repo[entry.id])
        else:
            found.append(entry)
    return found


def test_second_apply_waits_for_the_lock_then_gives_up(repo_path: Path, pg_url: str) -> None:
    from helpers import postgres_moose

    postgres_moose(pg_url)
    snapshot(repo_path, pg_url)
    edit(repo_path, "system_config/budget_limits.yaml", "daily_hard_cap: 50", "daily_hard_cap: 40")
    commit_all(repo_path, "cap 40")
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with psycopg.connect(pg_url) as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_ID])
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(10)
        before = dump(pg_url)
        result = run(repo_path, "apply", "--yes", "--lock-timeout", "0.5", database=pg_url)
        assert result.code == 1
        assert "another apply is running" in result.err
        assert dump(pg_url) == before
    finally:
        release.set()
        holder.join()
    assert run(repo_path, "apply", "--yes", database=pg_url).code == 0


def test_validate_formats(repo_path: Path, moose_url: str) -> None:
    snapshot(repo_path, moose_url)
    edit(repo_path, "system_config/budget_limits.yaml", "daily_hard_cap: 50", "daily_hard_cap: fifty")
    result = run(repo_path, "validate", "--format", "github")
    assert result.code == 1
    assert result.out.startswith("::error file=config-snapshots/system_config/budget_limits.yaml,line=")
    result = run(repo_path, "validate", "--format", "json")
    (problem,) = json.loads(result.out)
    assert problem["file"] == "config-snapshots/system_config/budget_limits.yaml"
    assert "config_value" in problem["message"]
    assert run(repo_path, "validate", "config-snapshots/proposer_configs").code == 0
    result = run(repo_path, "validate")
    assert result.code == 1 and "budget_limits.yaml:" in result.out


def test_markdown_for_pull_requests_names_no_host(repo_path: Path, pg_url: str) -> None:
    """A PR comment may be public: the plan's markdown names no database host."""
    from helpers import postgres_moose

    postgres_moose(pg_url)
    snapshot(repo_path, pg_url)
    edit(repo_path, "system_config/budget_limits.yaml", "daily_hard_cap: 50", "daily_hard_cap: 40")
    commit_all(repo_path, "cap 40")
    result = run(repo_path, "plan", "--format", "markdown", database=pg_url)
    assert result.code == 2
    assert result.out.startswith("### configsync plan: 0 to create, 1 to update, 0 to delete\n\npostgresql database · revision ")
    assert "host=" not in result.out and "/tmp/" not in result.out
    result = run(repo_path, "diff", "HEAD~1", "--format", "markdown")
    assert result.out.startswith("### configsync diff: 0 to create, 1 to update, 0 to delete")
