"""`snapshot --commit` of record files that did not exist yet (adoption, or a
deleted snapshot directory): what it leaves in the validation cache, and the
git status it asks for the files it did not write.

A snapshot that created every file of a table vouches for them from the rows
they render (vouching.rows_pass), without validation's machinery; whatever
it is unsure of goes through the full validation. Either way the cache must
end up holding exactly what a cold `validate` of the same commit writes: the
same record entries (blob id under the schema's bytes) and the same table
entries (tree id), and none for a table with a row its schema refuses.
"""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path

import pygit2
import pytest
from configsync import vouching
from configsync.cache import ValidationCache
from configsync.config import load_config
from configsync.errors import UnsafePathError
from configsync.repo import Repo
from configsync.stamps import STAMP_SCHEMA
from helpers import commit_all, execute, init_repo, run
from test_plan_cache import plans

CONFIG = """\
tables:
  names:
    key: name
  strict:
    key: id
  unusual:
    key: id
"""

DRAFT = "https://json-schema.org/draft/2020-12/schema"
SCHEMAS = {
    # Fast "valid" answers (jsonschema-rs) for every row: vouched from the rows.
    "names": {"$schema": DRAFT, "type": "object", "required": ["name"], "additionalProperties": False,
              "properties": {"name": {"type": "string"}, "n": {"type": "integer", "minimum": 0}, "doc": {}}},
    # One row too long: the table is never vouched for, its other rows are.
    "strict": {"$schema": DRAFT, "type": "object", "properties": {"label": {"type": "string", "maxLength": 5}}},
    # A keyword with no fast answer: the full validation decides.
    "unusual": {"$schema": DRAFT, "type": "object", "patternProperties": {"^l": {"type": "string"}}},
}

# Keys whose names are twins (letter case) or encoded.
KEYS = ["Alpha", "alpha", "ALPHA", "é-unicode", "with space", ".dot", "tilde~1", "a", "a-b", "a.b", "x/y", "CON"]


def database(url: str) -> str:
    execute(url, "CREATE TABLE names (name text PRIMARY KEY, n integer, doc jsonb)")
    execute(url, "CREATE TABLE strict (id integer PRIMARY KEY, label text)")
    execute(url, "CREATE TABLE unusual (id integer PRIMARY KEY, label text)")
    for i, key in enumerate([*KEYS, *(f"row-{i}" for i in range(150))]):  # above packs.MIN_OBJECTS
        execute(url, "INSERT INTO names VALUES (%s, %s, %s)", (key, i, json.dumps({"i": i, "x": [1.5, None]})))
    for i in range(1, 41):
        execute(url, "INSERT INTO strict VALUES (%s, %s)", (i, "far too long" if i == 7 else f"s{i}"))
        execute(url, "INSERT INTO unusual VALUES (%s, %s)", (i, f"u{i}"))
    return url


def new_repo(path: Path) -> Path:
    init_repo(path, config=CONFIG, schemas=False)
    (path / "schemas").mkdir()
    for table, schema in SCHEMAS.items():
        (path / f"schemas/{table}.schema.json").write_text(json.dumps(schema, indent=2) + "\n")
    commit_all(path, "config")
    return path


def cache_entries(repo: Path) -> set[tuple[str, str]]:
    conn = sqlite3.connect(repo / ".configsync/cache.sqlite")
    try:
        return set(conn.execute("SELECT schema, record FROM valid WHERE schema != ?", [STAMP_SCHEMA]))
    finally:
        conn.close()


def test_snapshot_commit_vouches_exactly_what_a_cold_validate_finds_valid(
        tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    url = database(pg_url)
    answers: dict[str, bool] = {}
    rows_pass = vouching.rows_pass

    def spy(config, schemas, table, *args):  # type: ignore[no-untyped-def]
        answer = rows_pass(config, schemas, table, *args)
        answers[table] = answer is not None
        return answer

    monkeypatch.setattr(vouching, "rows_pass", spy)
    quick = new_repo(tmp_path / "quick")
    assert run(quick, "snapshot", "--commit", database=url).code == 2
    assert answers == {"names": True, "strict": False, "unusual": False}  # the first from its rows alone
    vouched = cache_entries(quick)

    monkeypatch.setattr(vouching, "rows_pass", lambda *args: None)  # the full validation, every table
    full = new_repo(tmp_path / "full")
    assert run(full, "snapshot", "--commit", database=url).code == 2
    assert cache_entries(full) == vouched
    trees = {pygit2.Repository(str(r)).head.peel(pygit2.Commit).tree.id for r in (quick, full)}
    assert len(trees) == 1

    # A cold validate of the same commit remembers the same: the records that
    # pass, and a tree entry for each table but the one its schema refuses.
    shutil.rmtree(quick / ".configsync")
    result = run(quick, "validate")
    assert result.code == 1 and "strict/7.yaml" in result.out + result.err
    assert cache_entries(quick) == vouched
    tables = {table for table in SCHEMAS if any(record.startswith("tree:") and schema == _schema_id(quick, table)
                                                 for schema, record in vouched)}
    assert tables == {"names", "unusual"}
    records = sum(1 for _, record in vouched if record.startswith("blob:"))
    assert records == len(KEYS) + 150 + 39 + 40



def _schema_id(repo: Path, table: str) -> str:
    return ValidationCache(None).schema_id((repo / f"schemas/{table}.schema.json").read_bytes())


def test_plan_right_after_adoption_reads_no_table(tmp_path: Path, pg_url: str) -> None:
    url = database(pg_url)
    execute(url, "UPDATE strict SET label = 'fine' WHERE id = 7")
    repo = new_repo(tmp_path / "repo")
    assert run(repo, "snapshot", "--commit", database=url).code == 2
    assert not (repo / ".git/index.lock").exists()  # the index refresh was waited for
    cached, full, skipped = plans(repo, url)
    assert cached == full == [] and skipped == set(SCHEMAS)


def worktree_changes_both_ways(repo: Repo, monkeypatch: pytest.MonkeyPatch, directories: list[str],
                               skip: set[str]) -> tuple[object, object]:
    quick = repo.worktree_changes(directories, skip)
    with monkeypatch.context() as patch:
        patch.setattr(Repo, "_only_skipped", lambda *args: False)  # git's listing of every untracked file
        full = repo.worktree_changes(directories, skip)
    return quick, full


def test_changes_beside_a_new_directory_are_those_git_lists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """worktree_changes lists an untracked directory's files itself only when
    they are all skipped; anything else there and git's own listing is used."""
    path = tmp_path / "repo"
    init_repo(path, config="tables:\n  items: {}\n  other: {}\n", schemas=False)
    (path / ".gitignore").write_text("*.ignored\n")
    (path / "config-snapshots/other").mkdir(parents=True)
    (path / "config-snapshots/other/kept.yaml").write_text("id: 1\n")
    commit_all(path, "config")
    items = path / "config-snapshots/items"
    items.mkdir()
    mine = set()
    for i in range(30):
        (items / f"{i}.yaml").write_text(f"id: {i}\n")
        mine.add(f"config-snapshots/items/{i}.yaml")
    (path / "config-snapshots/other/kept.yaml").write_text("id: 2\n")  # a tracked file changed
    (path / "config-snapshots/other/new.yaml").write_text("id: 3\n")  # untracked, in a tracked directory
    repo = Repo(load_config(path / "configsync.yaml"))
    directories = ["config-snapshots/items", "config-snapshots/other"]

    quick, full = worktree_changes_both_ways(repo, monkeypatch, directories, mine)
    assert quick == full == {"config-snapshots/other/kept.yaml": ("M", b"id: 2\n"),
                             "config-snapshots/other/new.yaml": ("A", b"id: 3\n")}

    # Something in the new directory that is not skipped: each way, what git lists.
    (items / "sub").mkdir()
    (items / "sub/deep.yaml").write_text("id: 9\n")
    (items / "left.ignored").write_text("x")
    (items / "earlier.yaml").write_text("id: 8\n")
    quick, full = worktree_changes_both_ways(repo, monkeypatch, directories, mine)
    assert quick == full
    assert {"config-snapshots/items/earlier.yaml", "config-snapshots/items/sub/deep.yaml"} <= set(full)  # type: ignore[arg-type]
    assert "config-snapshots/items/left.ignored" not in full  # type: ignore[operator]
    os.symlink("0.yaml", items / "link.yaml")  # refused, each way
    for forced in (False, True):
        with monkeypatch.context() as patch:
            if forced:
                patch.setattr(Repo, "_only_skipped", lambda *args: False)
            with pytest.raises(UnsafePathError):
                repo.worktree_changes(directories, mine)

    # Only ignored files besides the skipped ones: still git's answer (nothing).
    for extra in ("sub/deep.yaml", "earlier.yaml", "link.yaml"):
        os.unlink(items / extra)
    quick, full = worktree_changes_both_ways(repo, monkeypatch, directories, mine)
    assert quick == full and not any(p.startswith("config-snapshots/items/") for p in full)  # type: ignore[attr-defined]

    # The whole snapshots directory untracked (nothing committed under it yet).
    fresh = tmp_path / "fresh"
    init_repo(fresh, config="tables:\n  items: {}\n", schemas=False)
    commit_all(fresh, "config")
    (fresh / "config-snapshots/items").mkdir(parents=True)
    (fresh / "config-snapshots/items/a.yaml").write_text("id: a\n")
    (fresh / "config-snapshots/stray.yaml").write_text("x: 1\n")
    repo = Repo(load_config(fresh / "configsync.yaml"))
    quick, full = worktree_changes_both_ways(repo, monkeypatch, ["config-snapshots/items"],
                                             {"config-snapshots/items/a.yaml"})
    assert quick == full == {}
    quick, full = worktree_changes_both_ways(repo, monkeypatch, ["config-snapshots/items"], set())
    assert quick == full == {"config-snapshots/items/a.yaml": ("A", b"id: a\n")}


@pytest.mark.parametrize("other", ["config-snapshots/names/notes.txt", "config-snapshots/names/sub/deep.yaml"])
def test_a_file_the_snapshot_did_not_create_leaves_the_table_to_validation(
        tmp_path: Path, pg_url: str, other: str) -> None:
    url = database(pg_url)
    repo = new_repo(tmp_path / "repo")
    (repo / other).parent.mkdir(parents=True)
    (repo / other).write_text("name: Alpha\n")
    commit_all(repo, "a file of a person's")
    assert run(repo, "snapshot", "--commit", database=url).code == 2
    vouched = cache_entries(repo)
    shutil.rmtree(repo / ".configsync")
    run(repo, "validate")
    assert cache_entries(repo) == vouched
