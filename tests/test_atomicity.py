"""All of an apply or none of it; foreign keys ordered; on both backends."""
from __future__ import annotations

from pathlib import Path

import pygit2
from helpers import (
    PERMISSIVE_SCHEMA,
    commit_all,
    dump,
    execute,
    permissive_repo,
    run,
    three_changes,
    three_changes_last_one_invalid,
)

TABLES = ("system_config", "proposer_configs", "contracts")

FK_CONFIG = """\
tables:
  tenants:
    key: slug
    filename: "{slug}"
  flags:
    key: [tenant, name]
"""


def test_failing_last_statement_leaves_database_as_before(repo_path: Path, moose_url: str) -> None:
    run(repo_path, "snapshot", "--commit", database=moose_url)
    before = dump(moose_url)
    three_changes_last_one_invalid(repo_path, ("complexity_threshold: 0.3", "complexity_threshold: 0.9"))

    result = run(repo_path, "apply", "--yes", database=moose_url)
    assert result.code == 1, result.text
    assert "apply failed at proposer_configs config-snapshots/proposer_configs/zz-last.yaml" in result.err
    assert "nothing was changed" in result.err
    assert "Traceback" not in result.text
    assert dump(moose_url) == before
    assert backup_refs(repo_path) == []  # the backup of a failed apply is not left behind


def backup_refs(repo: Path) -> list[str]:
    return sorted(r for r in pygit2.Repository(str(repo)).references if r.startswith("refs/configsync/"))


def fk_repo(tmp_path: Path, url: str) -> Path:
    execute(url, "CREATE TABLE tenants (slug TEXT PRIMARY KEY, plan TEXT NOT NULL)")
    execute(url, "CREATE TABLE flags (tenant TEXT NOT NULL REFERENCES tenants(slug), name TEXT NOT NULL, "
                 "enabled BOOLEAN NOT NULL, PRIMARY KEY (tenant, name))")
    path = permissive_repo(tmp_path / "fk", FK_CONFIG, ("tenants", "flags"), "schemas")
    (path / "config-snapshots/tenants").mkdir(parents=True)
    (path / "config-snapshots/flags").mkdir(parents=True)
    return path


def test_parents_inserted_first_children_deleted_first(tmp_path: Path, db_url: str) -> None:
    path = fk_repo(tmp_path, db_url)
    snap = path / "config-snapshots"
    (snap / "tenants/acme.yaml").write_text("slug: acme\nplan: pro\n")
    (snap / "flags/acme__beta.yaml").write_text("tenant: acme\nname: beta\nenabled: true\n")
    commit_all(path, "a tenant and its flag")
    result = run(path, "apply", "--yes", database=db_url)
    assert result.code == 0, result.text
    assert run(path, "plan", database=db_url).code == 0

    (snap / "tenants/acme.yaml").unlink()
    (snap / "flags/acme__beta.yaml").unlink()
    (snap / "tenants/globex.yaml").write_text("slug: globex\nplan: free\n")
    commit_all(path, "replace the tenant")
    result = run(path, "apply", "--yes", database=db_url)
    assert result.code == 1 and "flags: would delete all 1 rows" in result.err  # empties flags
    result = run(path, "apply", "--yes", "--allow-mass-delete", database=db_url)
    assert result.code == 0, result.text
    assert dump(db_url, ["tenants", "flags"]) == {"tenants": [("globex", "free")], "flags": []}


def test_a_failing_row_in_a_batch_is_named(repo_path: Path, moose_url: str) -> None:
    """Many inserts go to the database in one batch; when one fails, the batch is
    replayed row by row so the message names the record, and nothing is kept."""
    run(repo_path, "snapshot", "--commit", database=moose_url)
    before = dump(moose_url)
    snap = repo_path / "config-snapshots/system_config"
    template = (snap / "orchestrator_max_concurrent.yaml").read_text()
    template = template.replace("id: 5a528b57-8809-4e5a-bdfb-ab0107ba6282\n", "")
    for i in range(20):
        name = f"flag_{i:02d}"
        text = template.replace("orchestrator_max_concurrent", name)
        if i == 13:
            text = text.replace("config_type: number", "config_type: ''")  # CHECK (config_type <> '')
        (snap / f"{name}.yaml").write_text(text)
    (repo_path / "schemas/system_config.schema.json").write_text(PERMISSIVE_SCHEMA)
    commit_all(repo_path, "twenty flags, one invalid for the database")
    result = run(repo_path, "apply", "--yes", database=moose_url)
    assert result.code == 1
    assert "config-snapshots/system_config/flag_13.yaml" in result.err
    assert "nothing was changed" in result.err
    assert dump(moose_url) == before


def refuse_history_writes(url: str) -> None:
    """A trigger that makes every INSERT into the history table fail, while the
    data tables still take writes: the history row is the apply's last statement."""
    if url.startswith("sqlite"):
        execute(url, "CREATE TRIGGER history_refused BEFORE INSERT ON configsync_history "
                     "BEGIN SELECT RAISE(ABORT, 'history is read-only today'); END")
        return
    execute(url, "CREATE FUNCTION history_refused() RETURNS trigger LANGUAGE plpgsql AS $$ "
                 "BEGIN RAISE EXCEPTION 'history is read-only today'; END $$")
    execute(url, "CREATE TRIGGER history_refused BEFORE INSERT ON configsync_history "
                 "FOR EACH ROW EXECUTE FUNCTION history_refused()")


def test_history_write_failing_rolls_back_the_data(repo_path: Path, moose_url: str) -> None:
    """The history row is written in the apply's transaction, before COMMIT: when
    that write fails, none of the data rows the apply wrote is kept, the command
    says so cleanly (exit 1, no traceback) and removes its backup ref."""
    run(repo_path, "snapshot", "--commit", database=moose_url)
    budget = repo_path / "config-snapshots/system_config/budget_limits.yaml"
    budget.write_text(budget.read_text().replace("daily_hard_cap: 50", "daily_hard_cap: 48"))
    commit_all(repo_path, "a first apply creates the history table")
    assert run(repo_path, "apply", "--yes", database=moose_url).code == 0
    refuse_history_writes(moose_url)
    before = dump(moose_url, TABLES + ("configsync_history",))
    refs = backup_refs(repo_path)
    assert len(refs) == 1  # the first apply's
    three_changes(repo_path, "gpt-new", message="an update, a delete and a create")

    result = run(repo_path, "apply", "--yes", database=moose_url)
    assert result.code == 1, result.text
    assert "Traceback" not in result.text
    assert result.err.startswith("error: apply failed: "), result.err
    assert "history is read-only today" in result.err
    assert "nothing was changed" in result.err
    assert dump(moose_url, TABLES + ("configsync_history",)) == before
    assert backup_refs(repo_path) == refs  # the failed apply's backup is not left behind
    assert run(repo_path, "plan", database=moose_url).code == 2  # all three changes still to do
