"""`snapshot --commit` stores many new record files as one git pack (packs.py).

Objects are named by their content, so the pack must change no id: the
commit's tree equals the one made with a loose object per file, every blob
reads back, and git itself finds the repository sound.
"""
from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

import pygit2
import pytest
from configsync import packs
from helpers import permissive_repo, run, sqlite_url

CONFIG = """\
tables:
  items:
    key: id
"""

ROWS = 250  # above packs.MIN_OBJECTS


def database(path: Path) -> str:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, doc JSON)")
    conn.executemany("INSERT INTO items VALUES (?, ?, ?)",
                     [(i, f"item {i} 🚀" * (i % 7), f'{{"n": {i % 3}, "same": true}}') for i in range(1, ROWS + 1)])
    conn.commit()
    conn.close()
    return sqlite_url(path)


def snapshot_commit(tmp_path: Path, name: str) -> tuple[pygit2.Repository, pygit2.Commit]:
    repo = permissive_repo(tmp_path / name, CONFIG, ["items"], "items")
    result = run(repo, "snapshot", "--commit", database=database(tmp_path / f"{name}.db"))
    assert result.code == 2, result.text
    git = pygit2.Repository(str(repo))
    return git, git.head.peel(pygit2.Commit)


def loose_objects(git: pygit2.Repository) -> int:
    objects = Path(git.path) / "objects"
    return sum(1 for d in objects.iterdir() if len(d.name) == 2 for _ in d.iterdir())


def test_packed_snapshot_has_the_loose_snapshots_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    packed, packed_commit = snapshot_commit(tmp_path, "packed")
    monkeypatch.setattr(packs, "MIN_OBJECTS", 10**9)
    loose, loose_commit = snapshot_commit(tmp_path, "loose")

    assert packed_commit.tree.id == loose_commit.tree.id
    # The blobs went into one pack, not a file each (the trees and the commit stay loose).
    assert len(list((Path(packed.path) / "objects/pack").glob("pack-*.idx"))) == 1
    assert loose_objects(packed) < 20 < ROWS <= loose_objects(loose)
    # Every blob reads back, by a fresh repository object (not a cache), as the work tree has it.
    fresh = pygit2.Repository(packed.workdir)
    tree = fresh[packed_commit.tree.id].peel(pygit2.Tree) / "config-snapshots" / "items"
    files = sorted((Path(packed.workdir) / "config-snapshots/items").glob("*.yaml"))
    assert len(files) == ROWS
    for path in files:
        assert fresh[(tree / path.name).id].peel(pygit2.Blob).data == path.read_bytes()
    assert run(Path(packed.workdir), "status", database=sqlite_url(tmp_path / "packed.db")).code == 0
    git = shutil.which("git")
    if git is not None:  # git's own check of the pack, its index and every object
        check = subprocess.run([git, "fsck", "--strict", "--no-dangling"], cwd=packed.workdir,
                               capture_output=True, text=True, check=False)
        assert check.returncode == 0, check.stdout + check.stderr
        assert subprocess.run([git, "status", "--porcelain"], cwd=packed.workdir, capture_output=True,
                              text=True, check=True).stdout == ""


def test_pack_ids_are_the_content_ids(tmp_path: Path) -> None:
    git = pygit2.init_repository(str(tmp_path / "repo"))
    blobs = [b"", b"x" * 100_000, b"same", b"same", *(f"row {i}\n".encode() for i in range(200))]
    ids = packs.write_blobs(git, blobs)
    assert ids == [pygit2.hash(data) for data in blobs]
    assert [git[oid].peel(pygit2.Blob).data for oid in ids] == blobs
    assert loose_objects(git) == 0


def test_pack_of_a_linked_work_tree_goes_to_the_shared_objects(tmp_path: Path) -> None:
    main = pygit2.init_repository(str(tmp_path / "main"))
    signature = pygit2.Signature("t", "t@localhost")
    main.create_commit("HEAD", signature, signature, "first", main.TreeBuilder().write(), [])
    main.add_worktree("linked", str(tmp_path / "linked"))
    blobs = [f"linked {i}\n".encode() for i in range(150)]
    ids = packs.write_blobs(pygit2.Repository(str(tmp_path / "linked")), blobs)
    shared = pygit2.Repository(str(tmp_path / "main"))  # a fresh look at the main repository's objects
    assert [shared[oid].peel(pygit2.Blob).data for oid in ids] == blobs
